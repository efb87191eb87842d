/**
 * SCAN and KEYS after `server.max_key_bytes` was lowered under keys the node already holds (a restart
 * with a smaller limit keeps them: nothing purges them). SCAN and KEYS answer a pattern whose
 * literal prefix is longer than max_key_bytes with no keys without reading the stores
 * (src/resp/commands-keyspace.ts, commands-keys.ts: "no key is longer than max_key_bytes"), while a
 * shorter pattern lists the same key: the key must be listed by every pattern it matches, as Redis
 * lists it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { exchange, splitReplies } from './resp-wire.js';

describe('SCAN and KEYS after max_key_bytes was lowered', () => {
  it('lists a key longer than the new limit for a long literal pattern as for a short one', async () => {
    const A = await freeNodeAddress();
    const dir = mkdtempSync(join(tmpdir(), 'distkv-test-'));
    const start = (maxKey: number): Promise<ServerProcess> =>
      ServerProcess.start(
        [
          '--config',
          writeConfig(dir, [{ address: A }], `[server]\nmax_key_bytes = ${String(maxKey)}\n`),
          '--data-dir',
          join(dir, 'data'),
          '--workers',
          '1',
        ],
        `http://${A}/healthz`,
      );
    const key = `long-key-${'k'.repeat(31)}`; // 40 bytes
    let server: ServerProcess | undefined;
    try {
      server = await start(1024);
      assert.deepEqual(splitReplies(await exchange(respOf(A), [['SET', key, 'v']])), ['+OK\r\n']);
      await server.stop();
      server = await start(16);
      const long = key.slice(0, 30);
      const replies = splitReplies(
        await exchange(respOf(A), [
          ['SCAN', '0', 'MATCH', 'long-key-*', 'COUNT', '1000'],
          ['SCAN', '0', 'MATCH', `${long}*`, 'COUNT', '1000'],
          ['KEYS', 'long-key-*'],
          ['KEYS', `${long}*`],
        ]),
      );
      const listed = `*1\r\n$40\r\n${key}\r\n`;
      assert.ok(replies[0]!.endsWith(listed), `SCAN long-key-*: ${JSON.stringify(replies[0])}`);
      assert.equal(replies[2], listed, 'KEYS long-key-*');
      assert.ok(replies[1]!.endsWith(listed), `SCAN MATCH ${long}*: ${JSON.stringify(replies[1])}`);
      assert.equal(replies[3], listed, `KEYS ${long}*`);
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
