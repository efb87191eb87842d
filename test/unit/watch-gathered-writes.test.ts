/**
 * GatheredWrites (src/watch/gathered-writes.ts), the outgoing side of every watch stream: its own
 * events gathered into one write, a broadcast's flush written at once as its pre-framed buffer,
 * order kept behind what waits, and a full socket's backlog counted and released on drain.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GATHER_MS, GatheredWrites, type SharedFlush } from '../../src/watch/gathered-writes.js';

/** FakeSink records each write; `room` false fakes a full socket. */
class FakeSink {
  writes: { data: string; framed: string | undefined }[] = [];
  room = true;
  closed = false;
  write(data: Buffer, framed: Buffer | undefined): boolean {
    this.writes.push({ data: data.toString(), framed: framed?.toString() });
    return this.room;
  }
  gone(): boolean {
    return this.closed;
  }
}

function flush(text: string): SharedFlush {
  return { data: Buffer.from(text), framed: Buffer.from(`[${text}]`) };
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('GatheredWrites', () => {
  it("gathers a stream's own pieces into one write", async () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    w.add('a');
    w.add(Buffer.from('b'));
    w.add('c');
    assert.equal(sink.writes.length, 0, 'nothing is written before the gather window ends');
    await tick(GATHER_MS * 4);
    assert.deepEqual(sink.writes, [{ data: 'abc', framed: undefined }]);
  });

  it("writes a broadcast's flush at once, as its framed buffer, when nothing waits", () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    w.shared(flush('x'));
    assert.deepEqual(sink.writes, [{ data: 'x', framed: '[x]' }]);
  });

  it('keeps a shared flush behind what still waits, in order', async () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    w.add('own');
    w.shared(flush('x'));
    w.shared(flush('y'));
    await tick(GATHER_MS * 4);
    assert.deepEqual(sink.writes, [{ data: 'ownxy', framed: undefined }]);
  });

  it('counts what waits for a full socket as backlog, and writes it on drain', async () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    sink.room = false;
    w.shared(flush('first'));
    assert.equal(w.isFull, true);
    w.shared(flush('second'));
    w.add('third');
    assert.equal(w.backlog(), 'secondthird'.length);
    let drained = false;
    void w.drained().then(() => (drained = true));
    await tick(GATHER_MS * 4);
    assert.equal(sink.writes.length, 1, 'nothing more is written into a full socket');
    sink.room = true;
    w.writable();
    assert.deepEqual(sink.writes[1], { data: 'secondthird', framed: undefined });
    assert.equal(w.backlog(), 0);
    assert.equal(w.isIdle, true);
    await tick(0);
    assert.equal(drained, true);
  });

  it("counts a full socket's backlog in the UTF-8 bytes it writes, not in a string's UTF-16 units", () => {
    // JSON leaves non-ASCII text as it is: an event of such keys or values is longer in bytes.
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    sink.room = false;
    w.shared(flush('first'));
    const text = `data: {"value":"${'é'.repeat(100)}${'😀'.repeat(50)}"}\n\n`;
    w.add(text);
    assert.equal(w.backlog(), Buffer.byteLength(text), 'é is 2 bytes, 😀 is 4 (2 UTF-16 units)');
    sink.room = true;
    w.writable();
    assert.equal(Buffer.byteLength(sink.writes[1]!.data), Buffer.byteLength(text));
  });

  it('releases a drained() waiter on drain when the write that emptied it filled the socket', async () => {
    // A catch-up loop awaits drained() once its backlog is large: the flush that writes that
    // backlog fills the socket, and nothing is left to write when it drains.
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    sink.room = false;
    w.add('catch-up page');
    let drained = false;
    void w.drained().then(() => (drained = true));
    await tick(GATHER_MS * 4);
    assert.deepEqual(
      sink.writes.map((x) => x.data),
      ['catch-up page'],
    );
    assert.equal(w.isFull, true);
    sink.room = true;
    w.writable();
    await tick(0);
    assert.equal(drained, true, 'the waiter is released once the socket drains');
  });

  it('drops what waits once the connection is gone, and releases its waiters', async () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    w.add('lost');
    const drained = w.drained();
    sink.closed = true;
    await tick(GATHER_MS * 4);
    await drained;
    assert.equal(sink.writes.length, 0);
    w.shared(flush('x'));
    assert.equal(sink.writes.length, 0);
  });

  it('writes a last message even into a full socket when forced', () => {
    const sink = new FakeSink();
    const w = new GatheredWrites(sink);
    sink.room = false;
    w.direct(Buffer.from('ping'));
    w.direct(Buffer.from('dropped keep-alive'));
    w.add('resume');
    w.flush(true);
    assert.deepEqual(
      sink.writes.map((x) => x.data),
      ['ping', 'resume'],
    );
  });
});
