/**
 * `distkv serve` stopped with SIGTERM while watchers are connected (docs/watch.md, "Slow watchers";
 * docs/operations.md, "A graceful stop"): the stop ends their streams with `resume` (reason
 * `draining`) at once and answers its feeds' parked polls (src/util/stop-wakes.ts), so it takes
 * about as long as a stop without watchers. Before, the streams were ended by the watch hub's
 * next heartbeat (every HEARTBEAT_MS, 1 s, from the first watcher's start) and the stop then
 * waited for the feeds' polls to run out (FEED_WAIT_MS, 500 ms): 0.6 to 1.5 s from "shutting
 * down" to "stopped", where a node without watchers took under 0.1 s.
 *
 * The SIGTERM is sent just after a heartbeat (STOP_AFTER_BEAT_MS past one), so the old streams
 * ended almost a whole heartbeat later (about 850 ms) and the old stop took 1085-1131 ms.
 * Watchers over SSE, the binary stream, a WebSocket and the client library's `watch`: every
 * one is told `draining`, and after the restart the client's watch and an SSE watch resumed from
 * its `resume` cursor bring every write after their cursor, none twice.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient, type WatchChange, type WatchStreamNotice } from '../../src/client/index.js';
import { HEARTBEAT_MS } from '../../src/watch/watch-hub.js';
import { ServerProcess, startOneNode } from '../helpers/server-process.js';
import { stopMsOf } from '../helpers/stop-time.js';

/**
 * RESUME_BOUND_MS bounds the time from the SIGTERM to each raw stream's `resume`: a few ms now
 * (the stop's first steps), at least ~850 ms on the old code (the hub's next heartbeat).
 */
const RESUME_BOUND_MS = 500;
/**
 * STOP_BOUND_MS bounds the stop from its "shutting down" to its "stopped" log line: 130-280 ms
 * here now (the stop waits DRAIN_QUIET_MS, 100 ms, for the test's idle keep-alive connections,
 * and closes the stores), up to 655 ms measured beside a 3-node failover test on 2 cores; the old
 * stop took 1085-1131 ms (the heartbeat's wait, then the feeds' polls).
 */
const STOP_BOUND_MS = 800;
/** STOP_AFTER_BEAT_MS is how long after a heartbeat of the watch hub the SIGTERM is sent. */
const STOP_AFTER_BEAT_MS = 150;
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** RawStream is a watch read from a raw socket: its bytes as latin1 text (JSON events show as they are). */
class RawStream {
  text = '';
  /** resumedAt is when the `resume` event came (performance.now()). */
  resumedAt: number | undefined;
  readonly socket: Socket;
  readonly closed: Promise<void>;

  constructor(port: number, path: string, headers: string) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1').on('data', (d: string) => {
      this.text += d;
      if (this.resumedAt === undefined && this.text.includes('"type":"resume"'))
        this.resumedAt = performance.now();
    });
    this.socket.on('error', () => undefined);
    this.closed = once(this.socket, 'close').then(() => undefined);
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n${headers}\r\n`);
  }

  /** until waits (bounded) for `needle` in what came. */
  async until(needle: string, what: string): Promise<void> {
    for (let i = 0; i < 2000 && !this.text.includes(needle); i++) await sleep(5);
    assert.ok(this.text.includes(needle), `${what}: no ${needle} in:\n${this.text}`);
  }

  /** resumeCursor is the cursor of the stream's `resume` event. */
  resumeCursor(): string {
    const m = /"type":"resume","reason":"([^"]*)","cursor":"([^"]*)"/.exec(this.text);
    assert.ok(m !== null, `no resume event in:\n${this.text}`);
    assert.equal(m[1], 'draining');
    return m[2]!;
  }
}

/** put writes `key` = `value`. */
async function put(address: string, key: string, value: string): Promise<void> {
  const r = await fetch(`http://${address}/kv/${key}`, { method: 'PUT', body: value });
  await r.arrayBuffer();
  assert.equal(r.status, 204);
}

/** putKeys writes w/<from>..w/<to> with values v<n>. */
async function putKeys(address: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await put(address, `w/${i}`, `v${i}`);
}

/** keysOf lists the keys of the SSE put events in `text`, in order. */
function sseKeys(text: string): string[] {
  return [...text.matchAll(/"type":"put","shard":\d+,"key":"([^"]*)"/g)].map((m) => m[1]!);
}

const expected = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `w/${from + i}`);

describe('distkv serve stopped with watchers connected', { timeout: 120000 }, () => {
  it('ends their streams with resume at once and stops as fast as without them', async (t) => {
    const own = await startOneNode('', ['--workers', '1'], { DISTKV_LOG_LEVEL: 'info' });
    after(() => own.stop());
    const { address, port } = own;
    const client = new DistkvClient({ urls: [address] });
    const stopWatch = new AbortController();
    let restarted: ServerProcess | undefined;
    try {
      // The first watcher starts the hub's heartbeat: its hello comes right after.
      const sse = new RawStream(port, '/watch?prefix=w/', 'Accept: text/event-stream\r\n');
      await sse.until('"type":"hello"', 'SSE watcher');
      const firstBeat = performance.now() + HEARTBEAT_MS;
      const binary = new RawStream(
        port,
        '/watch?prefix=w/',
        'Accept: application/vnd.distkv.watch; version=2\r\n',
      );
      const ws = new RawStream(
        port,
        '/watch?prefix=w/',
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n`,
      );
      await binary.until('"type":"hello"', 'binary watcher');
      await ws.until('"type":"hello"', 'WebSocket watcher');
      const seen: WatchChange[] = [];
      const notices: WatchStreamNotice[] = [];
      let progressed = 0;
      const watching = (async () => {
        const events = client.watch('w/', {
          signal: stopWatch.signal,
          progress: true,
          onStream: (n) => notices.push(n),
        });
        for await (const ev of events) {
          if (ev.type === 'progress') progressed++;
          else seen.push(ev);
        }
      })();
      // Its stream started (it yields a progress event then): it watches from now on.
      for (let i = 0; i < 2000 && progressed === 0; i++) await sleep(5);
      await putKeys(address, 1, 5);
      for (let i = 0; i < 2000 && seen.length < 5; i++) await sleep(5);
      assert.deepEqual(
        seen.map((e) => e.key),
        expected(1, 5),
        'the client watch saw the writes before the stop',
      );
      await sse.until('"key":"w/5"', 'SSE watcher');

      // SIGTERM just after a heartbeat: the old stop waited for the next one.
      const beatsPast = Math.ceil((performance.now() - firstBeat) / HEARTBEAT_MS);
      await sleep(firstBeat + beatsPast * HEARTBEAT_MS + STOP_AFTER_BEAT_MS - performance.now());
      const server = own.server;
      const signalAt = performance.now();
      server.child.kill('SIGTERM');
      assert.equal(await server.waitExit(), 0, `the stop failed:\n${server.stdout}\n${server.stderr}`);
      const stopMs = stopMsOf(server.stdout);
      t.diagnostic(`stop: ${stopMs} ms from "shutting down" to "stopped"`);
      // Every watcher was told to resume, as the node drains, at once.
      await Promise.all([sse.closed, binary.closed, ws.closed]);
      for (const [name, s] of [
        ['SSE', sse],
        ['binary', binary],
        ['WebSocket', ws],
      ] as const) {
        const ms = (s.resumedAt ?? Infinity) - signalAt;
        assert.ok(
          ms < RESUME_BOUND_MS,
          `the ${name} stream's resume came ${Math.round(ms)} ms after the SIGTERM (bound ${RESUME_BOUND_MS} ms): the stop waited for the watch hub's heartbeat`,
        );
      }
      assert.ok(
        stopMs < STOP_BOUND_MS,
        `the stop took ${stopMs} ms from "shutting down" to "stopped" with 4 watchers (bound ${STOP_BOUND_MS} ms; sent ${STOP_AFTER_BEAT_MS} ms after a heartbeat of ${HEARTBEAT_MS} ms): it waited for the watch hub's heartbeat or its feeds' polls`,
      );

      const cursor = sse.resumeCursor();
      binary.resumeCursor();
      ws.resumeCursor();
      for (let i = 0; i < 400 && notices.length === 0; i++) await sleep(5);
      assert.match(notices[0]?.reason ?? '', /draining/, 'the client watch was told the node drains');

      // Restarted, the node brings the resumed watchers every write after their cursor.
      restarted = await ServerProcess.start(
        ['--config', join(own.dir, 'sharding.toml'), '--data-dir', join(own.dir, 'data'), '--workers', '1'],
        `http://${address}/healthz`,
        { DISTKV_LOG_LEVEL: 'warn' },
      );
      await putKeys(address, 6, 10);
      const resumed = new RawStream(
        port,
        `/watch?prefix=w/&from=${encodeURIComponent(cursor)}`,
        'Accept: text/event-stream\r\n',
      );
      await resumed.until('"key":"w/10"', 'SSE watch resumed from its cursor');
      assert.deepEqual(sseKeys(sse.text), expected(1, 5));
      assert.deepEqual(sseKeys(resumed.text), expected(6, 10));
      resumed.socket.destroy();
      for (let i = 0; i < 4000 && seen.length < 10; i++) await sleep(5);
      assert.deepEqual(
        seen.map((e) => e.key),
        expected(1, 10),
        'the client watch resumed after the restart',
      );
      stopWatch.abort();
      await watching;
    } finally {
      stopWatch.abort();
      await client.close();
      await restarted?.stop();
    }
  });
});
