/**
 * A watch replayed from `0.0` after a key's TTL has passed shows what happened, as a live watcher
 * saw it (docs/watch.md, "Replaying expired keys"): the `put` with its value at the put's version,
 * then the `expire` at the version of the leader's expire record; over SSE at the leader and at
 * its replica (replicas serve watches), and through the client library's `watch`. A put whose
 * expiry was already past when the leader applied it is the delete it was written as.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { startRespPair } from './resp-wire.js';

let A = '';
let B = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, B, stop } = await startRespPair());
});

after(() => stop());

/** sseEvents reads a watch's SSE from `node` until `done` holds for its change events (bounded), and returns them. */
async function sseEvents(
  node: string,
  query: string,
  done: (evs: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => {
    abort.abort();
  }, 15000);
  const events: Record<string, unknown>[] = [];
  let text = '';
  try {
    const r = await fetch(`http://${node}/watch?${query}`, {
      headers: { Accept: 'text/event-stream' },
      signal: abort.signal,
    });
    assert.equal(r.status, 200);
    const decoder = new TextDecoder();
    for await (const chunk of r.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const data = text
          .slice(0, end)
          .split('\n')
          .find((l) => l.startsWith('data: '));
        text = text.slice(end + 2);
        const ev = data === undefined ? undefined : (JSON.parse(data.slice(6)) as Record<string, unknown>);
        if (ev !== undefined && ['put', 'delete', 'expire', 'snapshot-begin'].includes(String(ev.type)))
          events.push(ev);
      }
      if (done(events)) return events;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error(`the watch at ${node} ended with ${JSON.stringify(events)}`);
}

const sawExpire = (key: string) => (evs: Record<string, unknown>[]) =>
  evs.some((e) => e.type === 'expire' && e.key === key);

/** TTL_MS is the short TTL the first two tests watch run out. */
const TTL_MS = 300;
/** TRIES bounds how many hash tags `liveTag` tries. */
const TRIES = 5;

/**
 * liveTag returns the first hash tag `{<base><n>}` (n < TRIES) under which `put` (given the tag and
 * the attempt) wrote a value with a TTL that the leader applied as a value: on a loaded machine it
 * may apply the put after the TTL has run out, and then writes the delete it is (the third test).
 * Each attempt has a tag of its own, so a watch of one sees none of another's writes.
 */
async function liveTag(base: string, put: (tag: string, n: number) => Promise<boolean>): Promise<string> {
  for (let n = 0; n < TRIES; n++) {
    const tag = `${base}${String(n)}`;
    if (await put(tag, n)) return tag;
  }
  return assert.fail(`each of ${String(TRIES)} puts with a ${String(TTL_MS)} ms TTL was applied after it`);
}

describe('a watch replayed after a TTL passed', () => {
  it('shows the put with its value and the expire, at the leader and at its replica', async () => {
    let putVersion = '';
    const tag = await liveTag('rt', async (t, n) => {
      const w = await fetch(`http://${A}/kv/{${t}}ttl?ttl_ms=${String(TTL_MS)}`, {
        method: 'PUT',
        body: 'short-lived',
      });
      assert.equal(w.status, 204, `put ${String(n)}`);
      putVersion = w.headers.get('etag')!.slice(1, -1);
      return w.headers.get('x-distkv-deleted') === null;
    });
    const key = `{${tag}}ttl`;
    const query = `prefix=${encodeURIComponent(`{${tag}}`)}&from=0.0`;
    assert.equal((await fetch(`http://${A}/kv/{${tag}}plain`, { method: 'PUT', body: 'stays' })).status, 204);
    // Wait for the expire record (a live watch from now would miss it if it came first: replay).
    await sseEvents(A, query, sawExpire(key));
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404);
    for (const node of [A, B]) {
      const events = await sseEvents(node, query, sawExpire(key));
      const ttl = events.filter((e) => e.key === key);
      assert.equal(ttl.length, 2, `${node}: ${JSON.stringify(events)}`);
      assert.deepEqual(ttl[0], {
        type: 'put',
        shard: ttl[0]!.shard,
        key,
        value: 'short-lived',
        version: putVersion,
      });
      assert.equal(ttl[1]!.type, 'expire', `${node}: ${JSON.stringify(events)}`);
      const [pe, ps] = putVersion.split('.').map(Number);
      const [ee, es] = String(ttl[1]!.version).split('.').map(Number);
      assert.ok(
        ee! >= pe! && es! > ps!,
        `${node}: the expire comes after the put (${String(ttl[1]!.version)})`,
      );
      assert.ok(!events.some((e) => e.type === 'delete'), `${node}: no delete: ${JSON.stringify(events)}`);
    }
  });

  it('yields the same from the client library', async () => {
    const c = new DistkvClient({ urls: [A] });
    const stopWatch = new AbortController();
    const seen: WatchChange[] = [];
    try {
      const tag = await liveTag(
        'rc',
        async (t) => !(await c.putResult(`{${t}}ttl`, 'v', { ttlMs: TTL_MS })).deleted,
      );
      const watched = (async () => {
        for await (const ev of c.watch(`{${tag}}`, { from: '0.0', signal: stopWatch.signal })) {
          seen.push(ev);
          if (ev.type === 'expire') return;
        }
      })();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error(`no expire event; saw ${seen.map((e) => e.type).join(' ')}`));
        }, 15000).unref(),
      );
      await Promise.race([watched, timeout]);
      stopWatch.abort();
      // Replayed once more, now that the expiry is long past.
      const again: string[] = [];
      const replay = new AbortController();
      for await (const ev of c.watch(`{${tag}}`, { from: '0.0', signal: replay.signal })) {
        again.push(`${ev.type}${ev.type === 'put' ? `=${String(ev.value)}` : ''}`);
        if (ev.type === 'expire') break;
      }
      replay.abort();
      assert.deepEqual(again, ['put=v', 'expire']);
    } finally {
      stopWatch.abort();
      await c.close();
    }
  });

  it('replays a put applied after its expiry as the delete it was written as', async () => {
    assert.equal((await fetch(`http://${A}/kv/{rd}k`, { method: 'PUT', body: 'old' })).status, 204);
    const w = await fetch(`http://${A}/kv/{rd}k?expires_at_ms=1`, { method: 'PUT', body: 'new' });
    assert.equal(w.headers.get('x-distkv-deleted'), '1');
    const events = await sseEvents(A, 'prefix=%7Brd%7D&from=0.0', (evs) => evs.length === 2);
    assert.deepEqual(
      events.map((e) => `${String(e.type)} ${typeof e.value === 'string' ? e.value : ''}`),
      ['put old', 'delete '],
    );
  });
});
