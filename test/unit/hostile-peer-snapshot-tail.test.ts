/**
 * A snapshot stream that goes on after its end (a broken or hostile leader: garbage trickled after
 * exactSeq, forever), or a 200 that is no snapshot and goes on, does not hold the replica's connection to its leader: the body is let go once
 * the snapshot ends. Before, it was left unread, each such resync kept one of the source's two
 * connections busy for good, and after two of them the replica's pulls waited for a connection
 * that never came free (no timeout runs while a request waits in the pool's queue).
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { HttpSource } from '../../src/replication/http-source.js';
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
} from '../../src/replication/snapshot-format.js';

describe('a snapshot stream that goes on after its end', () => {
  for (const [what, body, complete] of [
    [
      'is let go once the snapshot ends',
      Buffer.concat([
        encodeSnapshotHeader(3),
        encodeSnapshotEntries([{ key: Buffer.from('k'), value: Buffer.from('v'), seq: 3 }], true),
        encodeSnapshotExactSeq(3),
      ]),
      true,
    ],
    ['is let go when it is not a snapshot (a 200 of HTML)', Buffer.from('<html>'), false],
  ] as const)
    it(`${what}: pulls still get a connection`, async () => {
      const open = new Set<ServerResponse>();
      const timers: NodeJS.Timeout[] = [];
      const server = createServer((req, res) => {
        if (req.url?.startsWith('/_repl/snapshot') === true) {
          res.writeHead(200, { 'x-distkv-epoch': '0' });
          res.write(body);
          open.add(res);
          const t = setInterval(() => {
            if (res.destroyed) clearInterval(t);
            else res.write(Buffer.alloc(1024, 0x7a));
          }, 20);
          timers.push(t);
          return;
        }
        res.writeHead(204, { 'x-distkv-leader-seq': '3', 'x-distkv-epoch': '0' }).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const leader = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const s = new HttpSource({ leader, shard: 0, replica: '127.0.0.1:1', token: '', scheme: 'http' });
      try {
        // Three resyncs (the source keeps two connections), then a pull: each must get a connection.
        const run = async (): Promise<string> => {
          for (let i = 0; i < 3; i++) {
            if (!complete) {
              await assert.rejects(s.snapshot(), /not a distkv snapshot \(bad magic\)/);
              continue;
            }
            const snap = await s.snapshot();
            let keys = 0;
            for await (const chunk of snap.chunks) keys += chunk.length;
            assert.equal(keys, 1);
            assert.equal(snap.exactSeq(), 3);
          }
          await s.pull(3, 1 << 20, 50);
          return 'answered';
        };
        let t: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          run(),
          new Promise((r) => {
            t = setTimeout(() => {
              r('a resync or the pull after them waited for a connection');
            }, 8000);
          }),
        ]);
        clearTimeout(t);
        assert.equal(outcome, 'answered');
      } finally {
        for (const t of timers) clearInterval(t);
        await s.close();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
});
