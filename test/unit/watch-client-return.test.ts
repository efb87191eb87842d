/**
 * A client watch's `return()` called while a `next()` waits for a change ends the watch at once: the
 * pending `next()` and the `return()` resolve `done`, and the stream is closed. An async generator
 * runs `return()` only after the pending `next()` settles, so on a quiet prefix it waited for the
 * next change (for ever, here), the stream left open.
 *
 * The twin is a one-shard node whose /watch streams a hello and then nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { sseFrame } from '../../src/watch/watch-event.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let watches = 0;
let closed = 0;

before(async () => {
  twin = await startOneShardTwin((req, res) => {
    req.resume();
    if (!(req.url ?? '').startsWith('/watch')) {
      res.writeHead(404).end();
      return;
    }
    watches++;
    res.on('close', () => closed++);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sseFrame('{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:1.1"}', 'hello', '0:1.1'));
  });
});
after(async () => {
  await twin.stop();
});

/** within resolves with `p`'s outcome, or 'TIMEOUT' after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'TIMEOUT'> {
  const ac = new AbortController();
  const late = sleep(ms, 'TIMEOUT' as const, { signal: ac.signal }).catch(() => 'TIMEOUT' as const);
  try {
    return await Promise.race([p, late]);
  } finally {
    ac.abort();
  }
}

/** waitFor polls `cond` every 10 ms for up to 5 s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe('a client watch', () => {
  it('ends at once on return() while a next() waits, its stream closed', async () => {
    const kv = new DistkvClient({ urls: [twin.address], retries: 0 });
    try {
      const w = kv.watch('p/');
      const pending = w.next();
      await waitFor(() => watches === 1, 'the watch stream');
      assert.deepEqual(await within(w.return(), 3000), { done: true, value: undefined });
      assert.deepEqual(await within(pending, 3000), { done: true, value: undefined });
      await waitFor(() => closed === 1, 'the stream closed');
      assert.deepEqual(await w.next(), { done: true, value: undefined }, 'ended for good');
    } finally {
      await kv.close();
    }
  });

  it('return() before any next() opens nothing', async () => {
    const kv = new DistkvClient({ urls: [twin.address], retries: 0 });
    try {
      watches = 0;
      const w = kv.watch('p/');
      assert.deepEqual(await w.return(), { done: true, value: undefined });
      assert.deepEqual(await w.next(), { done: true, value: undefined });
      assert.equal(watches, 0);
    } finally {
      await kv.close();
    }
  });
});
