/**
 * `distkv restore` waiting for a shard's leader, as a log shows it (stderr not a terminal) and as
 * its report does:
 * - the wait's progress line is written at once when it says something new, then at most every
 *   LOG_MS. Each retry of the wait (about one a second: a reload of the map, FAILOVER_RETRY_MS)
 *   used to force a line, so a wait of up to 30 s wrote a line or two a second to a log;
 * - a shard written again in two passes (its leader moved again while it was written again) is
 *   reported as such: the report said "its 20 keys were written again" of a shard of 10 keys.
 *
 * The twin refuses every batch as UNAVAILABLE (leader-wait.ts, MOVING; the client sends no write
 * refused so again, while it waits a DRAINING leader out itself) for a while (a window), then
 * takes them; the restore waits, writes every key, and writes the shard again (its writes were
 * refused as by a leader moving). A window opens at the first batch of a pass.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOG_MS } from '../../src/cli/progress-line.js';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startHandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** WAIT_MS is a long window: more than one LOG_MS, less than two. */
const WAIT_MS = LOG_MS + 2000;

let node: HandlerTwin;
/** many is a node that leads every shard of a cluster of SHARDS shards. */
let many: HandlerTwin;
const SHARDS = 12;
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

/** batches answers the restore's requests but /cluster: refused as UNAVAILABLE within a window, else taken. */
function batches(req: IncomingMessage, res: ServerResponse): void {
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
        .end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the store is not serving' } }));
      return;
    }
    took = true;
    const ops = JSON.parse(body.toString()) as unknown[] | { ops: unknown[] };
    const list = Array.isArray(ops) ? ops : ops.ops;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ results: list.map(() => ({ ok: true })), errors: 0 }));
  });
}

before(async () => {
  node = await startOneShardTwin(batches);
  many = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(manyShardsView(many.address));
      return;
    }
    batches(req, res);
  });
});

after(async () => {
  await Promise.all([node.stop(), many.stop()]);
});

/** manyShardsView is the /cluster document (JSON text) of a cluster of SHARDS shards, all led by `leader`. */
function manyShardsView(leader: string): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: 1,
    slots: 16384,
    node: leader,
    hosted_nodes: [leader],
    shards: Array.from({ length: SHARDS }, (_, i) => ({
      name: `shard-${i}`,
      idx: i,
      slots: [Math.floor((i * 16384) / SHARDS), Math.floor(((i + 1) * 16384) / SHARDS) - 1],
      leader: { address: leader, local: true },
      replicas: [],
    })),
  });
}

/** backupOf writes a backup of `n` keys (10 by default) named `name` and returns its path. */
function backupOf(name: string, n = 10): string {
  const file = join(dir, name);
  writeOneShardBackup(
    file,
    Array.from({ length: n }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      expiresAtMs: 0,
    })),
  );
  return file;
}

describe('distkv restore waiting for a leader', () => {
  it('writes its wait to a log at once, then at most every LOG_MS, not at every retry', async () => {
    const file = backupOf('wait.dkvb');
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
    const waits = r.stderr.split('\n').filter((l) => l.includes('UNAVAILABLE at'));
    // One line as the wait starts, then one each LOG_MS it lasts.
    assert.ok(waits.length >= 1, r.stderr);
    assert.ok(
      waits.length <= 1 + Math.floor(tookMs / LOG_MS),
      `${waits.length} lines in ${Math.round(tookMs)} ms:\n${r.stderr}`,
    );
  });

  it('says a shard was written again in two passes, not that it holds twice its keys', async () => {
    const file = backupOf('twice.dkvb');
    // The first pass and the one that writes the shard again each meet a window; the third is clean.
    windowsLeft = 2;
    windowMs = 1000;
    const r = await runCli(['restore', file, '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^restored 10 keys from .*; the leader of shard 0 changed or restarted during the restore, so its keys were written again in 2 more passes over the backup \(20 writes\) to its leader now/,
    );
  });

  it('names a few of the shards it writes again, and counts the others, on its progress line', async () => {
    // Every shard's keys are refused once (the first pass's window), then again as they are
    // written again (the second window, whose wait line names them): the line listed all 12.
    const file = backupOf('many.dkvb', 240);
    windowsLeft = 2;
    windowMs = 1000;
    const r = await runCli(['restore', file, '--url', many.address, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { keys: number; rewritten_shards: number[] };
    assert.equal(doc.keys, 240);
    assert.deepEqual(
      doc.rewritten_shards,
      Array.from({ length: SHARDS }, (_, i) => i),
      'the report lists them all',
    );
    const again = r.stderr.split('\n').filter((l) => l.includes('writing again'));
    assert.ok(again.length >= 1, r.stderr);
    for (const l of again) assert.match(l, /writing again the keys of shard 0, 1, 2 \+9 more: \d+;/);
  });
});
