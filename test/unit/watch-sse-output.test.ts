/**
 * SseOutput (src/watch/sse-output.ts) over a real HttpResponse whose socket is full: what waits
 * for a client that does not read is counted in the bytes the socket will be given, whatever the
 * text. A stream's own events (snapshot, catch-up, hello) are written as strings, and JSON leaves
 * non-ASCII text as it is: counted in UTF-16 units, a watcher of such keys or values held up to
 * 2-3x its `max_buffer_bytes` before it was told to resume (docs/watch.md, "Slow watchers").
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { type ExchangeSink, HttpResponse } from '../../src/http/http1-exchange.js';
import { SseOutput } from '../../src/watch/sse-output.js';
import { sseFrame } from '../../src/watch/watch-event.js';
import { Watcher } from '../../src/watch/watcher.js';
import { ReplicaNode, sleep, SRC } from '../helpers/watch-node.js';

/** FullSocket is a connection whose socket takes the head and then reports itself full until `drain`. */
class FullSocket implements ExchangeSink {
  sent: Buffer[] = [];
  full = true;
  send(_res: HttpResponse, data: string | Uint8Array): void {
    this.sent.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
  }
  ended(): void {}
  needsDrain(): boolean {
    return this.full;
  }
  destroy(): void {}
  dateLine(): string {
    return 'Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n';
  }
  detach(): undefined {
    return undefined;
  }
  awaitsBody(): boolean {
    return false;
  }
  /** bytes counts what was sent after the response's head and first chunk. */
  bytes(from: number): number {
    return this.sent.slice(from).reduce((n, b) => n + b.length, 0);
  }
}

/** fullStream is an SSE response on a full socket, its head and first chunk written. */
function fullStream(onEnd: () => void = () => undefined): {
  sink: FullSocket;
  res: HttpResponse;
  out: SseOutput;
} {
  const sink = new FullSocket();
  const res = new HttpResponse(sink, 'GET', true, false);
  res.writeStatus('200 OK').writeHeader('Content-Type', 'text/event-stream');
  const out = new SseOutput(res, 'sse', onEnd);
  out.begin();
  return { sink, res, out };
}

const NON_ASCII = `${'é'.repeat(200)}${'😀'.repeat(50)}`;

describe('SseOutput on a full socket', () => {
  it('counts an event of non-ASCII text as the UTF-8 bytes it writes', async () => {
    const { sink, res, out } = fullStream();
    // what the socket holds already: the first write after the head found it full
    out.keepAlive();
    const json = JSON.stringify({ type: 'put', shard: 0, key: 'k', value: NON_ASCII, version: '0.1' });
    out.emit('put', json, '0:0.1');
    const frame = sseFrame(json, 'put', '0:0.1');
    assert.equal(out.backlog(), Buffer.byteLength(frame), 'é is 2 bytes, 😀 is 4 (2 UTF-16 units)');
    const before = sink.sent.length;
    sink.full = false;
    res.writable();
    await sleep(0);
    // chunked: size line + data + CRLF
    const size = Buffer.byteLength(frame);
    assert.equal(sink.bytes(before), size.toString(16).length + 2 + size + 2);
    assert.equal(out.backlog(), 0);
  });

  it('tells a watcher to resume once more UTF-8 bytes than its buffer limit wait, however few characters', async () => {
    // A snapshot of 8 values of ~600 bytes (~300 characters) each waits unread: ~5.8 KB, ~3 K units.
    const node = new ReplicaNode();
    for (let i = 0; i < 8; i++) node.log.append(`k${i}`, NON_ASCII);
    node.log.trim(node.log.last);
    const { out } = fullStream();
    out.keepAlive();
    const maxBuffer = 4096;
    const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer });
    w.start(new Map([[0, { epoch: 0, seq: 0 }]]), {});
    try {
      // The snapshot is one page; the stream then catches up and joins the live broadcast.
      for (let i = 0; i < 1000 && out.backlog() < 5000; i++) await sleep(5);
      assert.ok(out.backlog() > maxBuffer, `the snapshot waits unread: ${out.backlog()} bytes`);
      // The next live change is where a stream's backlog is checked against its limit.
      await sleep(50);
      node.log.append('k8', 'x');
      for (let i = 0; i < 1000 && !w.isClosed(); i++) await sleep(5);
      assert.equal(w.isClosed(), true, 'the watcher was told to resume at its first live change');
    } finally {
      w.close();
    }
  });

  it('lets go of a stream told to resume as soon as its client is gone, not CUT_GRACE_MS later', async () => {
    // A slow watcher is told to resume; its socket stays full (the client reads nothing), so the
    // stream waits up to CUT_GRACE_MS to drain. Its client then goes (a reset: the response is
    // aborted). The closer held the stream, its connection and its backlog for those 30 s, per
    // slow watcher that left: clients that reconnect each time they are told to resume piled them up.
    const closers = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' && (new Error().stack ?? '').includes('sse-output')) closers.add(id);
      },
      destroy(id) {
        closers.delete(id);
      },
    }).enable();
    let ends = 0;
    try {
      const { res, out } = fullStream(() => ends++);
      out.keepAlive();
      out.emit('put', JSON.stringify({ type: 'put', key: 'k', value: 'x'.repeat(1000) }), '0:0.1');
      out.end('resume', JSON.stringify({ type: 'resume', reason: 'slow', cursor: '0:0.1' }), '0:0.1');
      assert.equal(closers.size, 1, 'the stream told to resume waits to drain, with a closer');
      assert.ok(out.backlog() > 1000, `its events wait unsent: ${out.backlog()} bytes`);
      res.abort();
      // destroy hooks run after the turn in which a timer was cleared
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(closers.size, 0, 'the closer of a stream whose client is gone is still armed');
      assert.equal(out.backlog(), 0, 'what waited for a client that is gone is still held');
      assert.equal(ends, 1, 'the stream ended once (its watcher and keep-alive go)');
    } finally {
      hook.disable();
    }
  });

  it('ends a stream whose client is gone once, also when it was not told to resume', () => {
    let ends = 0;
    const { res, out } = fullStream(() => ends++);
    out.keepAlive();
    out.emit('put', JSON.stringify({ type: 'put', key: 'k', value: 'x' }), '0:0.1');
    res.abort();
    assert.equal(ends, 1);
    assert.equal(out.backlog(), 0);
    out.end('resume', JSON.stringify({ type: 'resume', reason: 'draining', cursor: '0:0.1' }), '0:0.1');
    assert.equal(ends, 1, 'an aborted stream is not ended again');
  });
});
