/**
 * `distkv restore --wait-ms 1000` against a shard whose leader refuses connections (dead): the
 * restore fails within about the wait given. Its first check of each leader went through the
 * client's wait for a refused connection (--refused-wait-ms, 10 s) and took 10.8 s. Twin: a node
 * whose /cluster names a closed port as the one shard's leader.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let deadLeader = '';
const dir = tempDir(after);

before(async () => {
  deadLeader = `127.0.0.1:${String(await freePort())}`; // nothing listens there
  node = await startHandlerTwin((req, res) => {
    if (req.url !== '/cluster') {
      res.writeHead(404).end();
      return;
    }
    const view = {
      version: 'cfg',
      map_version: 1,
      slots: 16384,
      node: node.address,
      hosted_nodes: [node.address],
      shards: [
        {
          name: 'shard-0',
          idx: 0,
          slots: [0, 16383],
          leader: { address: deadLeader, local: false },
          replicas: [],
        },
      ],
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
  });
  writeOneShardBackup(join(dir, 'one.dkv'), [
    { key: Buffer.from('k'), value: Buffer.from('v'), expiresAtMs: 0 },
  ]);
});

after(async () => {
  await node.stop();
});

describe('distkv restore --wait-ms against a dead leader', () => {
  it('gives up within about the wait given, naming the leader', async () => {
    const started = performance.now();
    const r = await runCli(['restore', join(dir, 'one.dkv'), '--wait-ms', '1000', '--url', node.address]);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`leader ${deadLeader} could not be asked`));
    assert.match(r.stderr, /nothing was written/);
    // The CLI's start, the wait (1 s), a reload and the final ask: well under the old 10.8 s.
    assert.ok(tookMs < 5000, `took ${String(Math.round(tookMs))} ms`);
  });
});
