/**
 * `distkv backup` during a failover: the shard's leader in the map the backup loaded is down (its
 * connection refused); a reloaded map names the new leader, and the shard is copied from there. It
 * used to exit 1 with SHARD_UNREACHABLE. Twins: O answers /cluster (shard 0 at the dead address,
 * then at B), B serves the shard's snapshot (5 keys at seq 5) and its /cluster.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const KEYS = 5;

let origin: HandlerTwin;
let b: HandlerTwin;
let dead = '';
let loads = 0;
const dir = tempDir(after);

before(async () => {
  dead = `127.0.0.1:${await freePort()}`;
  b = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(b.address, 2, KEYS));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const entries = Array.from({ length: KEYS }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      seq: i + 1,
    }));
    res.end(snapshotStream(KEYS, entries));
  });
  origin = await startHandlerTwin((req, res) => {
    // The first load (the backup's map) names the dead leader; later ones the new leader, B.
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(++loads === 1 ? oneShardView(dead, 1) : oneShardView(b.address, 2));
  });
});

after(async () => {
  await origin.stop();
  await b.stop();
});

describe('distkv backup during a failover', () => {
  it("copies a shard from the new leader when the map's leader is down", async () => {
    const file = join(dir, 'during-failover.dkvb');
    const r = await runCli(['backup', file, '--url', origin.address]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /shard 0 shard-0: 5 keys at seq 5\n/);
    assert.ok((await readFile(file)).length > 0);
  });
});
