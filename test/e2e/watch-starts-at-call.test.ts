/**
 * `kv.watch(prefix)` without `from` starts when it is called (docs/watch.md, "When a watch
 * starts"): its streams open then, not at the first `next()`, so a change made after the call
 * and before the loop starts is yielded. The watch was an async generator whose body, and so its
 * stream, started only when iterated: an application that made the watch, then wrote (or awaited
 * anything else) and only then looped over it, lost every change made in between without a word.
 * etcd's `Watch()` and a Redis `SUBSCRIBE` start at the call. Found by tester-65; fails on the
 * code before the fix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { type OwnServer, startOneNode } from '../helpers/server-process.js';

/** OPEN_MS bounds the wait for the watch's stream to open at the node. */
const OPEN_MS = 10000;

let own: OwnServer & { address: string };

/** watchersOpen is the node's count of open watch streams (/metrics). */
async function watchersOpen(): Promise<number> {
  const text = await (await fetch(`http://${own.address}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('distkv_watchers_open '));
  return line === undefined ? 0 : Number(line.slice('distkv_watchers_open '.length));
}

before(async () => {
  own = await startOneNode('[server]\nresp_port_offset = 0', ['--workers', '1']);
});

after(async () => {
  await own.stop();
});

describe('a watch made before the changes it is meant to see', () => {
  it('yields a put made after watch() returned and before the loop started', async () => {
    const kv = new DistkvClient({ urls: [`http://${own.address}`] });
    try {
      await kv.topology();
      const ac = new AbortController();
      const watch = kv.watch('made/', { signal: ac.signal });
      // Give a watch that opens its stream at the call time up to OPEN_MS to open it (the node
      // counts it); one that opens it only when iterated never does.
      const openBy = Date.now() + OPEN_MS;
      while ((await watchersOpen()) < 1 && Date.now() < openBy)
        await new Promise((resolve) => setTimeout(resolve, 50));
      await kv.put('made/before-loop', 'a');
      const keys: string[] = [];
      const loop = (async () => {
        for await (const ev of watch) if (ev.type === 'put' && ev.key !== undefined) keys.push(ev.key);
      })();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await kv.put('made/in-loop', 'b');
      const deadline = Date.now() + 10000;
      while (!keys.includes('made/in-loop') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      ac.abort();
      await loop;
      assert.deepEqual(keys, ['made/before-loop', 'made/in-loop']);
    } finally {
      await kv.close();
    }
  });
});
