/**
 * `distkv restore` waiting for a shard's leader, as a log shows it (stderr not a terminal) and as
 * its report does:
 * - the wait's progress line is written at once when it says something new, then at most every
 *   LOG_MS. Each retry of the wait (about one a second: a reload of the map, FAILOVER_RETRY_MS)
 *   used to force a line, so a wait of up to 30 s wrote a line or two a second to a log;
 * - a shard written again in two passes (its leader moved again while it was written again) is
 *   reported as such: the report said "its 20 keys were written again" of a shard of 10 keys.
 *
 * The twin refuses every batch as DRAINING (a leader stopping: leader-wait.ts, MOVING) for a while
 * (a window), then takes them; the restore waits, writes every key, and writes the shard again (its
 * writes were refused as by a leader moving). A window opens at the first batch of a pass.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOG_MS } from '../../src/cli/progress-line.js';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** WAIT_MS is a long window: more than one LOG_MS, less than two. */
const WAIT_MS = LOG_MS + 2000;

let node: HandlerTwin;
/** windowsLeft is how many more windows the twin opens, each of windowMs. */
let windowsLeft = 0;
let windowMs = 0;
/** refuseUntil is when the twin stops refusing batches. */
let refuseUntil = 0;
/** took: a batch was taken since the last window opened (the first batch of a pass opens the next). */
let took = true;
const dir = tempDir(after);

/** bodyOf reads a request's body. */
async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

before(async () => {
  node = await startOneShardTwin((req, res) => {
    const url = new URL(req.url ?? '/', 'http://twin');
    void bodyOf(req).then((body) => {
      if (req.method === 'GET' && url.pathname === '/kv') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[],"next":null}');
        return;
      }
      if (req.method !== 'POST' || url.pathname !== '/kv/_batch') {
        res.writeHead(404).end();
        return;
      }
      if (Date.now() >= refuseUntil && windowsLeft > 0 && took) {
        windowsLeft--;
        refuseUntil = Date.now() + windowMs;
        took = false;
      }
      if (Date.now() < refuseUntil) {
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'DRAINING', message: 'the node is stopping' } }));
        return;
      }
      took = true;
      const ops = JSON.parse(body.toString()) as unknown[] | { ops: unknown[] };
      const list = Array.isArray(ops) ? ops : ops.ops;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ results: list.map(() => ({ ok: true })), errors: 0 }));
    });
  });
});

after(async () => {
  await node.stop();
});

/** tenKeys writes a backup of 10 keys named `name` and returns its path. */
function tenKeys(name: string): string {
  const file = join(dir, name);
  writeOneShardBackup(
    file,
    Array.from({ length: 10 }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      expiresAtMs: 0,
    })),
  );
  return file;
}

describe('distkv restore waiting for a leader', () => {
  it('writes its wait to a log at once, then at most every LOG_MS, not at every retry', async () => {
    const file = tenKeys('wait.dkvb');
    windowsLeft = 1;
    windowMs = WAIT_MS;
    const started = performance.now();
    const r = await runCli(['restore', file, '--url', node.address, '--json']);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      file,
      keys: 10,
      expired: 0,
      rewritten: 10,
      rewritten_shards: [0],
    });
    const waits = r.stderr.split('\n').filter((l) => l.includes('looking for its leader'));
    // One line as the wait starts, then one each LOG_MS it lasts.
    assert.ok(waits.length >= 1, r.stderr);
    assert.ok(
      waits.length <= 1 + Math.floor(tookMs / LOG_MS),
      `${waits.length} lines in ${Math.round(tookMs)} ms:\n${r.stderr}`,
    );
  });

  it('says a shard was written again in two passes, not that it holds twice its keys', async () => {
    const file = tenKeys('twice.dkvb');
    // The first pass and the one that writes the shard again each meet a window; the third is clean.
    windowsLeft = 2;
    windowMs = 1000;
    const r = await runCli(['restore', file, '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^restored 10 keys from .*; the leader of shard 0 changed during the restore, so its keys were written again in 2 more passes over the backup \(20 writes\) to the new leader/,
    );
  });
});
