/**
 * `distkv backup` against a node (a fake node: a node:http server on loopback) that refuses a
 * shard's snapshot with a body that never ends (a JSON error, then whitespace for ever): the body
 * is read up to ERROR_BODY_BYTES and the refusal reported with its code. Before, the whole body
 * was gathered (`arrayBuffer()`) and the command waited, its memory growing, for good.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakePeers } from '../helpers/fake-peer.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv backup from a node whose refusal never ends', () => {
  const root = tempDir(after, 'distkv-hostile-backup-');
  it('reads the refusal up to its bound and reports its code', async () => {
    const peers = new FakePeers();
    const open = new Set<ServerResponse>();
    const timers: NodeJS.Timeout[] = [];
    const node = await peers.start((req, res, address) => {
      if (req.url?.startsWith('/cluster') === true) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: 'cfg',
            map_version: 1,
            slots: 16384,
            shards: [{ name: 's0', idx: 0, slots: [0, 16383], leader: { address }, replicas: [] }],
          }),
        );
        return;
      }
      open.add(res);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'refused by the fake node' } }));
      const t = setInterval(() => {
        if (res.destroyed) clearInterval(t);
        else res.write(Buffer.alloc(16 * 1024, 0x20));
      }, 5);
      timers.push(t);
    });
    try {
      const r = await Promise.race([
        runCli(['backup', join(root, 'b.dkv'), '--url', `http://${node}`]),
        new Promise<{ code: string; stderr: string }>((resolve) =>
          setTimeout(() => {
            resolve({ code: 'still running', stderr: '' });
          }, 15000).unref(),
        ),
      ]);
      assert.notEqual(r.code, 'still running', 'the backup waited for the end of the refusal');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /INVALID_ARGUMENT.*refused by the fake node/);
    } finally {
      for (const t of timers) clearInterval(t);
      for (const res of open) res.destroy();
      await peers.close();
    }
  });
});
