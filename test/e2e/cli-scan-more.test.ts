/**
 * `distkv scan` without --all prints one page; when there are more keys it says so on stderr with
 * the option that goes on, with --json too. `distkv scan --json > dump.jsonl` (the input `distkv
 * load` reads) stopped after 100 keys without a word and exit 0.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv scan: more keys than one page', () => {
  it('says on stderr that a --json scan stopped after one page, and --all prints every key', async () => {
    const dir = tempDir(after);
    const address = `127.0.0.1:${await freePort()}`;
    const config = writeConfig(dir, [{ address }, { address }]);
    const server = await ServerProcess.start(
      ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1', '--durability', 'none'],
      `http://${address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    try {
      const ops = Array.from({ length: 150 }, (_, i) => ({
        op: 'set',
        key: `dump:${String(i).padStart(3, '0')}`,
        value: String(i),
      }));
      const r = await fetch(`http://${address}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
      assert.equal(r.status, 200);
      const lines = (out: string): string[] => out.split('\n').filter((l) => l !== '');

      const page = await runCli(['scan', 'dump:', '--json', '--url', address]);
      assert.equal(page.code, 0, page.stderr);
      assert.equal(lines(page.stdout).length, 100);
      assert.match(page.stderr, /more: --after "dump:099", or --all/);

      const all = await runCli(['scan', 'dump:', '--json', '--all', '--url', address]);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(lines(all.stdout).length, 150);
      assert.equal(all.stderr, '');

      const last = await runCli(['scan', 'dump:', '--json', '--after', 'dump:099', '--url', address]);
      assert.equal(lines(last.stdout).length, 50);
      assert.equal(last.stderr, '', 'the last page says nothing');
    } finally {
      await server.stop();
    }
  });
});
