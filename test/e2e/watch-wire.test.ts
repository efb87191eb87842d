/**
 * GET /watch on the wire (docs/watch.md): Server-Sent Events read from a raw socket (framing,
 * order, Last-Event-ID resume, a replica's lag), the WebSocket upgrade with masked, fragmented,
 * ping/pong and close frames and hostile frames refused, and a slow watcher that is cut off with
 * `resume` while writers keep their throughput.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { acceptKey } from '../../src/http/websocket-format.js';
import { formatVersion, parseVersion, type Version } from '../../src/routing/version.js';
import { BINARY_MEDIA_TYPE } from '../../src/watch/watch-binary-format.js';
import { BinaryWatchReader, type DecodedFrame } from '../../src/watch/watch-binary-reader.js';
import { parseFrom } from '../../src/watch/watch-cursor.js';
import { parseExposition } from '../helpers/prom-parse.js';
import { freePorts } from '../helpers/ports.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

/** Conn collects what a raw socket receives. */
class Conn {
  readonly socket: Socket;
  data = Buffer.alloc(0);
  ended = false;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.data = Buffer.concat([this.data, d])));
    this.socket.on('close', () => (this.ended = true));
    this.socket.on('error', () => undefined);
  }
  /** until waits (bounded) for `test` to hold. */
  async until(test: () => boolean, what: string, ms = 20000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${this.data.length} bytes`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  get text(): string {
    return this.data.toString('utf8');
  }
}

interface SseEvent {
  /** idAfter is the stream's last event id once this event and any id-only blocks after it are read. */
  idAfter: string;
  event: string;
  data: Record<string, unknown>;
}

/** sseEvents parses the events out of a chunked SSE response received so far. */
function sseEvents(raw: string): SseEvent[] {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  // De-chunk: size line, data, CRLF.
  let text = '';
  for (let at = 0; at < body.length;) {
    const nl = body.indexOf('\r\n', at);
    if (nl < 0) break;
    const size = parseInt(body.slice(at, nl), 16);
    if (Number.isNaN(size) || nl + 2 + size > body.length) break;
    text += body.slice(nl + 2, nl + 2 + size);
    at = nl + 2 + size + 2;
  }
  const out: SseEvent[] = [];
  const blocks = text.split('\n\n');
  blocks.pop(); // the unfinished tail
  for (const block of blocks) {
    const lines = block.split('\n');
    const field = (name: string): string | undefined =>
      lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
    const id = field('id');
    const data = field('data');
    // An id-only block moves the last event id without an event (the SSE spec's dispatch steps).
    if (id !== undefined)
      for (let i = out.length - 1; i >= 0 && out[i]!.idAfter !== id; i--) out[i]!.idAfter = id;
    if (data === undefined) continue;
    out.push({
      idAfter: id ?? '',
      event: field('event') ?? '',
      data: JSON.parse(data) as Record<string, unknown>,
    });
  }
  return out;
}

/** maskedFrame builds a client frame (masked unless `unmasked`). */
function maskedFrame(
  op: number,
  payload: Buffer,
  fin = true,
  opts: { unmasked?: boolean; rsv?: boolean } = {},
): Buffer {
  const head = [(fin ? 0x80 : 0) | (opts.rsv === true ? 0x40 : 0) | op];
  const len = payload.length;
  const maskBit = opts.unmasked === true ? 0 : 0x80;
  const ext: number[] = [];
  if (len < 126) head.push(maskBit | len);
  else if (len <= 0xffff) {
    head.push(maskBit | 126);
    ext.push(len >> 8, len & 0xff);
  } else {
    head.push(maskBit | 127);
    ext.push(0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  }
  if (opts.unmasked === true) return Buffer.concat([Buffer.from([...head, ...ext]), payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([Buffer.from([...head, ...ext]), mask, body]);
}

/** ServerFrame is a frame the server sent. */
interface ServerFrame {
  op: number;
  payload: Buffer;
}

/** serverFrames parses the (unmasked) frames after the 101 head. */
function serverFrames(data: Buffer): ServerFrame[] {
  let at = data.indexOf('\r\n\r\n') + 4;
  const out: ServerFrame[] = [];
  while (at + 2 <= data.length) {
    const op = data[at]! & 0x0f;
    let len = data[at + 1]! & 0x7f;
    let h = 2;
    if (len === 126) {
      len = data.readUInt16BE(at + 2);
      h = 4;
    } else if (len === 127) {
      len = data.readUInt32BE(at + 6);
      h = 10;
    }
    if (at + h + len > data.length) break;
    out.push({ op, payload: data.subarray(at + h, at + h + len) });
    at += h + len;
  }
  return out;
}

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgradeRequest(path: string, key = WS_KEY): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** binaryBody takes the chunked coding off a binary watch response received so far. */
function binaryBody(data: Buffer): Buffer {
  let at = data.indexOf('\r\n\r\n') + 4;
  const body: Buffer[] = [];
  for (;;) {
    const line = data.indexOf('\r\n', at);
    if (line < 0) break;
    const size = parseInt(data.toString('latin1', at, line), 16);
    if (size === 0 || line + 2 + size + 2 > data.length) break;
    body.push(data.subarray(line + 2, line + 2 + size));
    at = line + 2 + size + 2;
  }
  return Buffer.concat(body);
}

/** binaryFrames decodes the frames of a chunked binary watch response received so far. */
function binaryFrames(data: Buffer): DecodedFrame[] {
  return new BinaryWatchReader().push(binaryBody(data));
}

async function put(port: number, key: string, value: string | Buffer): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/kv/${encodeURIComponent(key)}`, {
    method: 'PUT',
    body: value,
  });
  assert.equal(r.status, 204);
}

describe('watch on the wire', () => {
  let own: OwnServer;
  let p1 = 0;
  let p2 = 0;

  before(async () => {
    [p1, p2] = (await freePorts(2)) as [number, number];
    const a = `127.0.0.1:${p1}`;
    const r = `127.0.0.1:${p2}`;
    own = await startOwnServer(
      [
        { address: a, replicas: [r] },
        { address: a, replicas: [r] },
      ],
      '',
      ['--workers', '2', '--log-level', 'warn'],
    );
  });
  after(async () => {
    await own.stop();
  });

  it('streams SSE in log order per shard, only under the prefix, and resumes from Last-Event-ID', async () => {
    const c = new Conn(p1);
    c.socket.write(
      'GET /watch?prefix=sse/&from=0.0 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n',
    );
    await c.until(() => sseEvents(c.text).some((e) => e.event === 'hello'), 'hello');
    const head = c.text.slice(0, c.text.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 OK/);
    assert.match(head, /Content-Type: text\/event-stream/i);
    assert.match(head, /Transfer-Encoding: chunked/i);
    await put(p1, 'sse/a', '1');
    await put(p1, 'other/x', 'no');
    await put(p1, 'sse/b', '2');
    await fetch(`http://127.0.0.1:${p1}/kv/sse%2Fa`, { method: 'DELETE' });
    await put(p1, 'sse/a', '3');
    await c.until(
      () => sseEvents(c.text).filter((e) => e.event !== 'hello' && e.event !== 'progress').length >= 4,
      'four events',
    );
    const events = sseEvents(c.text).filter((e) => e.event === 'put' || e.event === 'delete');
    assert.deepEqual(
      events
        .filter((e) => e.data.key === 'sse/a')
        .map((e) => `${e.event}:${(e.data.value as string | undefined) ?? ''}`),
      ['put:1', 'delete:', 'put:3'],
    );
    assert.ok(!events.some((e) => e.data.key === 'other/x'), 'keys outside the prefix are not sent');
    for (const e of events) {
      assert.equal(e.data.type, e.event);
      assert.ok(parseVersion(String(e.data.version)) !== undefined, 'every change carries its version');
    }
    const last = events[events.length - 1]!;
    const atEnd = parseFrom(last.idAfter).shards.get(Number(last.data.shard));
    assert.equal(
      formatVersion(atEnd as Version),
      last.data.version,
      'the id after the last event is its version',
    );
    c.socket.destroy();

    // Last-Event-ID = the id after the first event: exactly the events after that position come again.
    const position = parseFrom(events[0]!.idAfter);
    const expected = events.filter((e) => {
      const p = position.shards.get(Number(e.data.shard)) as Version;
      return parseVersion(String(e.data.version))!.seq > p.seq;
    });
    const r = new Conn(p1);
    r.socket.write(
      `GET /watch?prefix=sse/ HTTP/1.1\r\nHost: t\r\nLast-Event-ID: ${events[0]!.idAfter}\r\n\r\n`,
    );
    const changes = (): SseEvent[] =>
      sseEvents(r.text).filter((e) => e.event === 'put' || e.event === 'delete');
    await r.until(() => changes().length >= expected.length, 'resumed events');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      changes().map((e) => `${String(e.data.key)}@${String(e.data.version)}`),
      expected.map((e) => `${String(e.data.key)}@${String(e.data.version)}`),
    );
    r.socket.destroy();
  });

  it('counts an SSE watch the client closed in distkv_http_requests_total, as a WebSocket watch is', async () => {
    const watches = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${p1}/metrics`)).text();
      let n = 0;
      for (const s of parseExposition(text).get('distkv_http_requests_total')?.samples ?? [])
        if (s.labels.route === 'watch' && s.labels.status === '200') n += s.value;
      return n;
    };
    const before = await watches();
    const c = new Conn(p1);
    c.socket.write('GET /watch?prefix=count/ HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n');
    await c.until(() => sseEvents(c.text).some((e) => e.event === 'hello'), 'hello');
    c.socket.destroy();
    const deadline = Date.now() + 5000;
    while ((await watches()) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await watches()) - before, 1, 'the stream is counted once, under 200');
  });

  for (const [version, accept] of [
    [1, `${BINARY_MEDIA_TYPE}, text/event-stream`],
    [2, `text/event-stream;q=0.5, ${BINARY_MEDIA_TYPE}; version=2, ${BINARY_MEDIA_TYPE}`],
  ] as const)
    it(`streams binary frames, version ${version}, to a client that asks for them: the same changes as SSE, values as they are`, async () => {
      const p = `bin${version}/`;
      const b = new Conn(p1);
      b.socket.write(`GET /watch?prefix=${p}&from=0.0 HTTP/1.1\r\nHost: t\r\nAccept: ${accept}\r\n\r\n`);
      await b.until(
        () => binaryFrames(b.data).some((f) => f.type === 'json' && f.json.includes('"hello"')),
        'hello',
      );
      const head = b.data.toString('latin1', 0, b.data.indexOf('\r\n\r\n'));
      assert.match(
        head,
        new RegExp(`Content-Type: application/vnd\\.distkv\\.watch; version=${version}`, 'i'),
      );
      assert.equal(binaryBody(b.data)[0], version, 'the stream starts with its version byte');
      await put(p1, `${p}a`, '1');
      await put(p1, 'other/x', 'no');
      await put(p1, `${p}b`, Buffer.from([0xff, 0x00, 0x0a]));
      await fetch(`http://127.0.0.1:${p1}/kv/bin${version}%2Fa`, { method: 'DELETE' });
      await put(p1, `${p}a`, '3');
      const changes = (): DecodedFrame[] => binaryFrames(b.data).filter((f) => f.type !== 'json');
      await b.until(() => changes().length >= 4, 'four changes');
      const got = changes();
      const text = (f: DecodedFrame): string =>
        f.type === 'json' ? '' : `${f.type}:${f.key.toString()}:${f.value?.toString('hex') ?? ''}`;
      // Shards interleave: the order is per key's shard.
      assert.deepEqual(got.filter((f) => f.type !== 'json' && f.key.toString() === `${p}a`).map(text), [
        `put:${p}a:31`,
        `delete:${p}a:`,
        `put:${p}a:33`,
      ]);
      assert.deepEqual(got.filter((f) => f.type !== 'json' && f.key.toString() === `${p}b`).map(text), [
        `put:${p}b:ff000a`,
      ]);
      b.socket.destroy();

      // An SSE watcher of the same prefix gets the same changes with the same versions.
      const s = new Conn(p1);
      s.socket.write(
        `GET /watch?prefix=${p}&from=0.0 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n`,
      );
      const sse = (): SseEvent[] =>
        sseEvents(s.text).filter((e) => e.event === 'put' || e.event === 'delete');
      await s.until(() => sse().length >= 4, 'four SSE changes');
      assert.deepEqual(
        sse()
          .map((e) => `${String(e.data.key)}@${String(e.data.version)}`)
          .sort(),
        got.map((f) => (f.type === 'json' ? '' : `${f.key.toString()}@${f.version}`)).sort(),
      );
      s.socket.destroy();
    });

  it('serves watches on a replica with its lag', async () => {
    await put(p1, 'rep/k', 'v');
    const c = new Conn(p2);
    c.socket.write('GET /watch?prefix=rep/&from=0.0 HTTP/1.1\r\nHost: t\r\n\r\n');
    await c.until(() => sseEvents(c.text).some((e) => e.data.key === 'rep/k'), 'the replicated put');
    assert.match(c.text.slice(0, c.text.indexOf('\r\n\r\n')), /X-Distkv-Lag: /i);
    await c.until(
      () => sseEvents(c.text).some((e) => e.event === 'progress' && e.data.lag !== undefined),
      'progress with lag',
    );
    c.socket.destroy();
  });

  it('speaks WebSocket: handshake, masked and fragmented frames, ping/pong, close', async () => {
    const c = new Conn(p1);
    c.socket.write(upgradeRequest('/watch?prefix=ws/&from=0.0'));
    await c.until(() => c.text.includes('\r\n\r\n'), 'the 101');
    assert.match(c.text, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.ok(c.text.includes(`Sec-WebSocket-Accept: ${acceptKey(WS_KEY)}`));
    assert.equal(acceptKey(WS_KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'RFC 6455 section 1.3 example');
    const messages = (): Record<string, unknown>[] =>
      serverFrames(c.data)
        .filter((f) => f.op === 1)
        .map((f) => JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
    await c.until(() => messages().some((m) => m.type === 'hello'), 'hello');
    // A ping is answered with a pong carrying its payload.
    c.socket.write(maskedFrame(9, Buffer.from('are you there')));
    await c.until(() => serverFrames(c.data).some((f) => f.op === 10), 'pong');
    assert.equal(
      serverFrames(c.data)
        .find((f) => f.op === 10)!
        .payload.toString(),
      'are you there',
    );
    // A fragmented text message with a ping between its fragments is accepted (and ignored).
    c.socket.write(maskedFrame(1, Buffer.from('{"hel'), false));
    c.socket.write(maskedFrame(9, Buffer.from('mid')));
    c.socket.write(maskedFrame(0, Buffer.from('lo":1}'), true));
    await put(p1, 'ws/a', 'x');
    await c.until(() => messages().some((m) => m.key === 'ws/a'), 'the put over the socket');
    assert.equal(messages().find((m) => m.key === 'ws/a')!.value, 'x');
    // Close: answered with a close frame carrying the same code, then the socket ends.
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    c.socket.write(maskedFrame(8, code));
    await c.until(() => c.ended, 'the socket to close');
    const close = serverFrames(c.data).find((f) => f.op === 8)!;
    assert.equal(close.payload.readUInt16BE(0), 1000);
  });

  for (const [name, frame, expected] of [
    ['an unmasked frame', maskedFrame(1, Buffer.from('hi'), true, { unmasked: true }), 1002],
    ['an RSV bit without an extension', maskedFrame(1, Buffer.from('hi'), true, { rsv: true }), 1002],
    ['an unknown opcode', maskedFrame(3, Buffer.from('hi')), 1002],
    ['a fragmented ping', maskedFrame(9, Buffer.from('hi'), false), 1002],
    ['a ping over 125 bytes', maskedFrame(9, Buffer.alloc(126)), 1002],
    ['a continuation with nothing to continue', maskedFrame(0, Buffer.from('hi')), 1002],
    ['text that is not UTF-8', maskedFrame(1, Buffer.from([0xc3, 0x28])), 1007],
    ['a message over 64 KiB', maskedFrame(2, Buffer.alloc(65537)), 1009],
  ] as const) {
    it(`refuses ${name} with close ${expected}`, async () => {
      const c = new Conn(p1);
      c.socket.write(upgradeRequest('/watch?prefix=hostile/'));
      await c.until(() => serverFrames(c.data).some((f) => f.op === 1), 'hello');
      c.socket.write(frame);
      await c.until(() => serverFrames(c.data).some((f) => f.op === 8), 'a close frame');
      assert.equal(
        serverFrames(c.data)
          .find((f) => f.op === 8)!
          .payload.readUInt16BE(0),
        expected,
      );
      await c.until(() => c.ended, 'the socket to close');
    });
  }

  it('refuses a bad upgrade request with 400', async () => {
    const c = new Conn(p1);
    c.socket.write(upgradeRequest('/watch?prefix=x', 'short'));
    await c.until(() => c.text.includes('\r\n\r\n'), 'an answer');
    assert.match(c.text, /^HTTP\/1\.1 400/);
    c.socket.destroy();
  });
});
