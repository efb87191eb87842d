/**
 * Watchers that come and go (docs/watch.md): 1,000 watch connections, SSE and WebSocket, opened
 * against a node running in this process (its stores inline, so the "worker" is this thread too)
 * and ended every way a client ends one — a reset, a half-close, a close frame, a close in the
 * middle of a fragmented message, garbage — in seeded random order while keys are written. Once
 * they are gone the process holds no more sockets or timers than before, and its heap has not
 * grown with them: no feed, broadcast, heartbeat or session outlives its watchers. A stream that
 * ends with `resume` (a slow watcher) leaves no timer behind either, nor does a node that stopped.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type InlineNode, startInlineNode } from '../helpers/inline-node.js';
import { seededRandom, testSeed } from '../helpers/random.js';

setFlagsFromString('--expose-gc');

const gc = runInNewContext('gc') as () => void;

const WS_HEAD = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function frame(op: number, payload: Buffer, fin = true): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([
    Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | payload.length]),
    mask,
    Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!)),
  ]);
}

/** resources counts this process's active handles by kind (sockets, timers, ...). */
function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

describe('watch churn', () => {
  let inline: InlineNode | undefined;
  let port = 0;

  before(async () => {
    inline = await startInlineNode(3, 'watch-churn');
    port = inline.port;
  });
  after(async () => {
    await inline?.stop();
  });

  /** watchOnce opens one watch and ends it as `how` says, once it got its first bytes (bounded). */
  function watchOnce(how: number, path: string): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      const ws = how >= 3;
      const timer = setTimeout(() => s.destroy(), 5000);
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.write(ws ? WS_HEAD(path) : `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
      s.once('data', () => {
        if (how === 0 || how === 3) s.destroy();
        else if (how === 1) {
          // SSE half-close: the server may go on writing; the client resets it a moment later.
          s.end();
          setTimeout(() => s.destroy(), 20);
        } else if (how === 2) setTimeout(() => s.destroy(), 30);
        else if (how === 4) s.write(frame(8, Buffer.from([0x03, 0xe8])));
        else if (how === 5)
          s.write(Buffer.concat([frame(1, Buffer.from('{"par'), false), frame(8, Buffer.alloc(0))]));
        else s.write(Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42, 0x99, 0x01]));
      });
    });
  }

  it('leaves no socket, timer or heap behind after 1,000 watchers came and went (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const prefixes = ['', 'a', 'churn/', '%25x', '%C3%A9', '{t}', 'churn%2F1'];
    const round = async (n: number): Promise<void> => {
      const writes = Array.from({ length: 5 }, (_, i) =>
        fetch(`http://127.0.0.1:${port}/kv/churn%2F${i}`, { method: 'PUT', body: String(rnd()) }),
      );
      await Promise.all([
        ...Array.from({ length: n }, () => {
          const prefix = prefixes[Math.floor(rnd() * prefixes.length)]!;
          const from = rnd() < 0.5 ? '&from=0.0' : '';
          return watchOnce(Math.floor(rnd() * 7), `/watch?prefix=${prefix}${from}`);
        }),
        ...writes,
      ]);
    };
    // Warm up: the first watchers build what stays (modules, pools, the client's own connections).
    await round(50);
    await new Promise((r) => setTimeout(r, 2500));
    gc();
    const before = resources();

    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10; i++) await round(100);
    // A half-closed SSE client that then reset its socket is noticed at the next write to it (a
    // change or the progress every watcher of a shard gets when its position moves): move every shard.
    for (let i = 0; i < 30; i++)
      await fetch(`http://127.0.0.1:${port}/kv/settle${i}`, { method: 'PUT', body: 'x' });
    // Feeds notice they are unused within a poll (500 ms), the heartbeat within a beat (1 s).
    const deadline = Date.now() + 15000;
    const settled = (): boolean =>
      [...resources()].every(
        ([kind, count]) => count <= (before.get(kind) ?? 0) + (kind === 'Timeout' ? 2 : 0),
      );
    while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      settled(),
      `seed ${seed}: handles before ${JSON.stringify([...before])}, after ${JSON.stringify([...resources()])}`,
    );
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 16 * 1024 * 1024, `seed ${seed}: the heap grew by ${grown} bytes`);
    // And the node still serves watches.
    const r = await fetch(`http://127.0.0.1:${port}/watch?prefix=churn/&from=0.0`);
    assert.equal(r.status, 200);
    await r.body?.cancel();
  });

  it('drops the keep-alive timer of an SSE stream that ended with resume (a slow watcher)', async () => {
    // Timers made for the watch route (their stack names watch-routes) that are still armed.
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' && (new Error().stack ?? '').includes('watch-routes')) live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    }).enable();
    try {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.write('GET /watch?prefix=slow/&max_buffer_bytes=1024 HTTP/1.1\r\nHost: t\r\n\r\n');
      const deadline = Date.now() + 20000;
      while (!text.includes('event: hello')) {
        if (Date.now() > deadline) assert.fail('no hello');
        await new Promise((r) => setTimeout(r, 10));
      }
      // Stop reading, and write more than the socket buffers hold: the watcher is told to resume.
      s.pause();
      const value = 'v'.repeat(64 * 1024);
      for (let i = 0; i < 300; i++)
        await fetch(`http://127.0.0.1:${port}/kv/slow%2F${i % 20}`, { method: 'PUT', body: value });
      s.resume();
      // The last event, then the end of the chunked body: the response ended, the connection stays.
      while (!(text.includes('event: resume') && text.endsWith('0\r\n\r\n'))) {
        if (Date.now() > deadline) assert.fail(`the stream did not end with resume (${text.length} bytes)`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(live.size, 0, 'the keep-alive timer of the ended stream is still armed');
      s.destroy();
    } finally {
      hook.disable();
    }
  });
});
