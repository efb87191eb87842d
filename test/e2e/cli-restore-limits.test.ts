/**
 * `distkv restore` of a backup into a cluster whose nodes take smaller values (server.max_value_bytes)
 * than the backup holds: a node's /cluster tells its limits, and the restore refuses the file
 * before writing any key (it used to write the keys before the first one refused, leaving the
 * cluster holding part of the backup). Two one-node clusters: SOURCE with the default limit,
 * TARGET with max_value_bytes = 1024.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const TARGET_LIMIT = 1024;

async function start(address: string, extra: string): Promise<ServerProcess> {
  const dir = tempDir(after);
  const config = writeConfig(dir, [{ address }], extra);
  return ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data')],
    `http://${address}/healthz`,
    {
      DISTKV_LOG_LEVEL: 'warn',
    },
  );
}

describe('distkv restore into a cluster with a smaller max_value_bytes', () => {
  it('refuses the backup before writing any key, naming the limit and the largest value', async () => {
    const [p1, p2] = (await freePorts(2)) as [number, number];
    const source = `127.0.0.1:${p1}`;
    const target = `127.0.0.1:${p2}`;
    const a = await start(source, '');
    const b = await start(target, `[server]\nmax_value_bytes = ${TARGET_LIMIT}`);
    try {
      for (const [k, v] of [
        ['a', 'small'],
        ['b', 'x'.repeat(2000)],
        ['c', 'small'],
      ] as const) {
        const r = await fetch(`http://${source}/kv/${k}`, { method: 'PUT', body: v });
        assert.equal(r.status, 204);
      }
      const file = join(tempDir(after), 'src.dkvb');
      const backup = await runCli(['backup', file, '--url', source]);
      assert.equal(backup.code, 0, backup.stderr);

      const r = await runCli(['restore', file, '--url', target]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /VALUE_TOO_LARGE: the backup holds 1 value over the cluster's limit of 1024 bytes \(server\.max_value_bytes\), the largest 2000 bytes \(key "b"\); nothing was written/,
      );
      const scan = await runCli(['scan', '--url', target, '--json']);
      assert.equal(scan.code, 0, scan.stderr);
      assert.equal(scan.stdout, '', 'no key was written');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
