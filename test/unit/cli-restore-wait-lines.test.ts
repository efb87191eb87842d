/**
 * `distkv restore` waiting for a shard's leader writes its progress line as it does while it writes:
 * at once when the wait says something new, then at most every LOG_MS to a log (stderr not a
 * terminal). Each retry of the wait (about one a second: a reload of the map, FAILOVER_RETRY_MS)
 * used to force a line, so a wait of up to 30 s wrote a line or two a second to a log.
 *
 * The twin refuses every batch as DRAINING (a leader stopping: leader-wait.ts, MOVING) for WAIT_MS,
 * then takes them; the restore waits, writes every key, and writes the shard again (its writes were
 * refused as by a leader moving).
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

/** WAIT_MS is how long the twin refuses batches, from the first one: more than one LOG_MS, less than two. */
const WAIT_MS = LOG_MS + 2000;

let node: HandlerTwin;
/** refuseUntil is when the twin stops refusing batches (0 until the first arrives). */
let refuseUntil = 0;
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
      if (refuseUntil === 0) refuseUntil = Date.now() + WAIT_MS;
      if (Date.now() < refuseUntil) {
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'DRAINING', message: 'the node is stopping' } }));
        return;
      }
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

describe('distkv restore waiting for a leader', () => {
  it('writes its wait to a log at once, then at most every LOG_MS, not at every retry', async () => {
    const file = join(dir, 'wait.dkvb');
    writeOneShardBackup(
      file,
      Array.from({ length: 10 }, (_, i) => ({
        key: Buffer.from(`k${i}`),
        value: Buffer.from(`v${i}`),
        expiresAtMs: 0,
      })),
    );
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
});
