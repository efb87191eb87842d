/**
 * The members of one broadcast (docs/watch.md, "Fan-out") do not disturb each other: while keys
 * are written, some watchers of the prefix reset their connection (RST), some close it, one stops
 * reading; every other watcher still receives every write exactly once, in log order per shard,
 * the stalled one is told to resume (`slow`), and the node goes on serving. Seeded: which watchers
 * go, how and when (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startOneNode } from '../helpers/server-process.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { dechunk } from '../helpers/raw-http.js';

const WATCHERS = 12;
const WRITES = 600;
// 600 values of 16 KiB: more than the stalled watcher's socket buffers hold (it asks for values)
const VALUE = 'v'.repeat(16 * 1024);

/** RawWatcher is one SSE watch over a raw socket, keeping what it received. */
class RawWatcher {
  readonly socket: Socket;
  closed = false;
  // Chunks joined when read: the stalled watcher receives megabytes at once when resumed, and
  // joining at every chunk (or parsing it all at every poll) made a loaded machine miss the wait.
  private chunks: Buffer[] = [];
  constructor(port: number, query: string) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.socket.write(`GET /watch?${query} HTTP/1.1\r\nHost: t\r\n\r\n`);
  }
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
  events(): Record<string, unknown>[] {
    return dechunk(this.received)
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  }
  puts(): Record<string, unknown>[] {
    return this.events().filter((e) => e.type === 'put');
  }
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('watchers sharing a broadcast', () => {
  it('keep receiving every write while others reset, close or stall (seeded)', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const own = await startOneNode('[storage]\ndurability = "none"\n', [
      '--workers',
      '1',
      '--log-level',
      'warn',
    ]);
    const { port } = own;
    try {
      const watchers = Array.from({ length: WATCHERS }, () => new RawWatcher(port, 'prefix=sh/&values=0'));
      // It asks for the values, and the writes bring it far more than its socket and its buffer
      // limit hold: it is cut off.
      const stalled = new RawWatcher(port, 'prefix=sh/&max_buffer_bytes=65536');
      await until(() => [...watchers, stalled].every((w) => w.received.includes('hello')), 10000);
      assert.ok(
        [...watchers, stalled].every((w) => w.received.includes('hello')),
        'every watcher started',
      );
      stalled.socket.pause();
      // Which watchers leave, how, and after how many writes.
      const leaving = new Map<number, { how: 'reset' | 'close'; at: number }>();
      while (leaving.size < 6) {
        const i = Math.floor(rand() * WATCHERS);
        if (!leaving.has(i))
          leaving.set(i, { how: rand() < 0.6 ? 'reset' : 'close', at: Math.floor(rand() * WRITES) });
      }
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < WRITES) {
            const n = next++;
            for (const [i, l] of leaving)
              if (l.at === n) {
                if (l.how === 'reset') watchers[i]!.socket.resetAndDestroy();
                else watchers[i]!.socket.end();
              }
            const r = await fetch(`http://127.0.0.1:${port}/kv/sh/${String(n)}`, {
              method: 'PUT',
              body: VALUE,
            });
            assert.equal(r.status, 204);
          }
        }),
      );
      const staying = watchers.filter((_, i) => !leaving.has(i));
      await until(() => staying.every((w) => w.puts().length >= WRITES), 20000);
      for (const w of staying) {
        const puts = w.puts();
        assert.equal(puts.length, WRITES, `seed ${seed}: a staying watcher received every write once`);
        assert.deepEqual(
          new Set(puts.map((p) => p.key)),
          new Set(Array.from({ length: WRITES }, (_, n) => `sh/${String(n)}`)),
          `seed ${seed}: every key`,
        );
        const last = new Map<unknown, number>();
        for (const p of puts) {
          const seq = Number(String(p.version).split('.')[1]);
          assert.ok(seq > (last.get(p.shard) ?? 0), `seed ${seed}: shard ${String(p.shard)} in log order`);
          last.set(p.shard, seq);
        }
      }
      stalled.socket.resume();
      // Polled on the bytes (a search), parsed once: the stream holds megabytes of values.
      await until(() => stalled.received.includes('"type":"resume"'), 60000);
      const resume = stalled.events().find((e) => e.type === 'resume');
      assert.equal(resume?.reason, 'slow', `seed ${seed}: the stalled watcher was told to resume`);
      // The node still serves, and a new watcher of the prefix joins and gets the next write.
      const late = new RawWatcher(port, 'prefix=sh/&values=0');
      await until(() => late.received.includes('hello'), 10000);
      const r = await fetch(`http://127.0.0.1:${port}/kv/sh/late`, { method: 'PUT', body: 'v' });
      assert.equal(r.status, 204);
      await until(() => late.puts().length > 0, 10000);
      assert.deepEqual(
        late.puts().map((p) => p.key),
        ['sh/late'],
      );
      for (const w of [...watchers, stalled, late]) w.socket.destroy();
    } finally {
      await own.stop();
    }
  });
});
