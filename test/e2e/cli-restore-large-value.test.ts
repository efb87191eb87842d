/**
 * `distkv restore` of a backup holding a value of a few MiB, into a cluster whose nodes take it
 * (server.max_value_bytes = 8 MiB): the value comes back byte for byte. A restore wrote every key
 * with a UTF-8 name in a batch, whose JSON carries the value as base64, and a node failed that
 * batch with INTERNAL "Maximum call stack size exceeded": the restore stopped after the keys
 * before it, the value lost.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, startOneNode } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const LIMIT = 8 * 1024 * 1024;

describe('distkv restore of a large value', () => {
  it('writes a 5 MiB value back byte for byte, with the small keys around it', async () => {
    const node = await startOneNode(`[server]\nmax_value_bytes = ${LIMIT}`, [], { DISTKV_LOG_LEVEL: 'warn' });
    try {
      const url = `http://${node.address}`;
      const big = randomBytes(5 * 1024 * 1024);
      const values = new Map<string, Buffer>([
        ['a', Buffer.from('small a')],
        ['big', big],
        ['c', Buffer.from('small c')],
      ]);
      for (const [k, v] of values) {
        const r = await fetch(`${url}/kv/${k}`, { method: 'PUT', body: v });
        assert.equal(r.status, 204, await r.text());
      }
      const file = join(tempDir(after), 'large.dkvb');
      const backup = await runCli(['backup', file, '--url', node.address]);
      assert.equal(backup.code, 0, backup.stderr);
      for (const k of values.keys()) {
        const r = await fetch(`${url}/kv/${k}`, { method: 'DELETE' });
        assert.equal(r.status, 204, await r.text());
      }

      const restore = await runCli(['restore', file, '--url', node.address]);
      assert.equal(restore.code, 0, restore.stdout + restore.stderr);
      assert.match(restore.stdout, /restored 3 keys/);
      for (const [k, v] of values) {
        const r = await fetch(`${url}/kv/${k}`);
        assert.equal(r.status, 200, `key ${k}`);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(v), `key ${k} comes back byte for byte`);
      }
    } finally {
      await node.stop();
    }
  });
});
