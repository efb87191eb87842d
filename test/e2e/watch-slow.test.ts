/**
 * A slow watcher is bounded and never slows writers (docs/watch.md, "Slow watchers"): a watcher
 * that stops reading while a burst of writes goes on is sent `resume` with its cursor and its
 * stream is ended once `max_buffer_bytes` wait for it, which /metrics counts; the writers'
 * throughput meanwhile stays that of a run with no watcher (measured in the same test, alternating,
 * with a loose bound: the machine is shared);
 * and resuming from the cursor continues right after the last event the watcher received.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { parseFrom } from '../../src/watch/watch-cursor.js';
import { startOneNode } from '../helpers/server-process.js';
import { dechunk } from '../helpers/raw-http.js';

const VALUE = 'v'.repeat(16 * 1024);
const WRITES = 1500;

/** CHUNK is how many writes a burst makes between two looks at the node's /metrics. */
const CHUNK = 100;

/** metric reads one sample of /metrics (0 when the series is absent). */
async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const SLOW_CUTS = 'distkv_watch_streams_cut_total{reason="slow"}';

/**
 * writeBurst PUTs `n` keys under `prefix` with 16 concurrent writers, `CHUNK` at a time, and after
 * each chunk calls `between` with the node's count of watchers cut for being slow; returns writes
 * per second. Every burst looks at /metrics alike, so their rates compare.
 */
async function writeBurst(
  port: number,
  prefix: string,
  n: number,
  between: (slowCuts: number) => void = () => undefined,
): Promise<number> {
  const t0 = performance.now();
  for (let done = 0; done < n; done += CHUNK) {
    const end = Math.min(n, done + CHUNK);
    let next = done;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < end) {
          const i = next++;
          const r = await fetch(`http://127.0.0.1:${port}/kv/${prefix}${i % 200}`, {
            method: 'PUT',
            body: VALUE,
            // A write held up by the stalled watcher fails here rather than hanging the test.
            signal: AbortSignal.timeout(60000),
          });
          assert.equal(r.status, 204);
        }
      }),
    );
    between(await metric(port, SLOW_CUTS));
  }
  return n / ((performance.now() - t0) / 1000);
}

function dataLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}

describe('slow watcher', () => {
  it('is cut off with resume while writers keep their throughput, and resumes after its last event', async () => {
    // No idle limit: it closes a client that reads nothing while bytes wait for it (10 s), which
    // a loaded machine's slow burst reached before max_buffer_bytes did; this test is about the
    // watcher's own bound (test/e2e/http-idle-sweep.test.ts checks the idle limit).
    const own = await startOneNode('[server]\nidle_timeout_ms = 0\n[storage]\ndurability = "none"\n', [
      '--workers',
      '1',
      '--log-level',
      'warn',
    ]);
    const { address, port } = own;
    try {
      const alone = await writeBurst(port, 'warm/', WRITES);
      // The watcher reads its head, then nothing: the socket is paused.
      const socket: Socket = connect(port, '127.0.0.1');
      let received = Buffer.alloc(0);
      let closed = false;
      const isClosed = (): boolean => closed;
      socket.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
      });
      socket.on('close', () => (closed = true));
      socket.write('GET /watch?prefix=slow/&max_buffer_bytes=65536 HTTP/1.1\r\nHost: t\r\n\r\n');
      const deadline = Date.now() + 10000;
      while (!received.includes('hello') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      socket.pause();
      assert.equal(await metric(port, 'distkv_watchers_open'), 1);
      // Once the node has cut the watcher, it reads again at once. Not sooner: more than
      // max_buffer_bytes unsent in the socket is not yet a cut (a full socket holds the whole write
      // that filled it, one broadcast flush of many 16 KiB values under load, and only what waits
      // behind it counts), and a watcher that reads before its cut keeps up and is never cut.
      // Read only after the burst, it was closed first by the cut's 30 s grace when a loaded
      // machine made the burst outlast it (docs/watch.md, "Slow watchers").
      let cutSeen = false;
      const watched = await writeBurst(port, 'slow/', WRITES, (slowCuts) => {
        if (cutSeen || slowCuts === 0) return;
        cutSeen = true;
        socket.resume();
      });
      assert.ok(cutSeen, 'the node cut the stalled watcher (distkv_watch_streams_cut_total)');
      const end = Date.now() + 20000;
      const finished = (): boolean => isClosed() || received.subarray(-5).toString() === '0\r\n\r\n';
      while (!finished() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(finished(), 'the stalled watcher was sent the end of its stream');
      assert.equal(await metric(port, 'distkv_watchers_open'), 0, 'the cut watcher left the hub');
      socket.destroy();
      const events = dataLines(dechunk(received));
      const last = events[events.length - 1]!;
      assert.equal(last.type, 'resume');
      assert.equal(last.reason, 'slow');
      const puts = events.filter((e) => e.type === 'put');
      assert.ok(puts.length < WRITES, `cut off before the end of the burst (${puts.length} events)`);
      const lastSeen = puts.length === 0 ? 0 : Number(String(puts[puts.length - 1]!.version).split('.')[1]);
      const cursorSeq = parseFrom(String(last.cursor)).shards.get(0);
      assert.ok(cursorSeq !== undefined && cursorSeq !== 'now' && cursorSeq.seq >= lastSeen);

      // Resuming from the cursor: the next event follows the cursor's position exactly.
      const r = await fetch(`http://${address}/watch?prefix=slow/&values=0&from=${String(last.cursor)}`, {
        signal: AbortSignal.timeout(20000),
      });
      const reader = r.body!.getReader();
      let text = '';
      const decoder = new TextDecoder();
      while (!/event: put\ndata: [^\n]*\n\n/.test(text))
        text += decoder.decode((await reader.read()).value as Uint8Array | undefined, { stream: true });
      await reader.cancel();
      const next = dataLines(text).find((e) => e.type === 'put')!;
      assert.equal(Number(String(next.version).split('.')[1]), (cursorSeq as { seq: number }).seq + 1);
      assert.equal(next.value, undefined, 'values=0 omits values');

      // Measured last: the writes before and after bracket the ones with the stalled watcher.
      const again = await writeBurst(port, 'warm/', WRITES);
      // Against the mean of the bursts before and after it, not the faster: on a loaded machine
      // the rate drifts between bursts by more than the bound's slack.
      const ratio = watched / ((alone + again) / 2);
      assert.ok(
        ratio > 0.5,
        `writers with a stalled watcher ran at ${ratio.toFixed(2)} of their rate without`,
      );
    } finally {
      await own.stop();
    }
  });
});
