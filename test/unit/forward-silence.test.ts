/**
 * A forwarded exchange is bounded by its owner's silence, not by its length: `forward_timeout_ms`
 * (the relay's bound for `--proxy`) until the answer's head, then the same between two chunks of
 * its body, under a ceiling on the whole. A bound on the whole exchange failed a scan part holding a
 * 64 MiB value (~89 MB of base64 JSON, 17-20 s under load) every time, though its owner streamed
 * all along. The owners here are twins on loopback: one trickles a valid answer in chunks every
 * TRICKLE_MS for about 1.5 s (five times the bound), one sends the head and part of the body and
 * then goes silent (as a node stopped with SIGSTOP mid-answer), one never sends the head, one
 * trickles for ever (the ceiling), and one keeps the forwarding node's own thread busy past the
 * bound while a chunk waits unread (not the owner's silence).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Forwarder } from '../../src/http/forwarder.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import { type OwnerTarget, remoteShardContext } from '../helpers/remote-shard-context.js';
import { startRouterServer } from '../helpers/router-server.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

/** BOUND_MS is the owners' allowed silence (forward_timeout_ms, and the relay's bound). */
const BOUND_MS = 300;
const TRICKLE_MS = 100;
/** PIECES chunks TRICKLE_MS apart: the answer takes about 1.5 s, five bounds. */
const PIECES = 15;
/** CEILING_MS is the ceiling of `ceilinged`, through which the owner that trickles for ever is asked. */
const CEILING_MS = 2500;
/**
 * LATE_MS is how late past its due time a give-up may come on a loaded machine (3 test files on 2
 * cores): the upper bounds below only have to tell "at the bound" from "at the ceiling" or
 * "never", and a slack of 700 ms left a stalled turn or two of margin.
 */
const LATE_MS = 1500;
/**
 * forwarder's ceiling is far past the answers it must read whole (trickle about 1.5 s, busy 2.1 s),
 * which a loaded machine stretches: at a ceiling of CEILING_MS a busy part failed at it. The
 * ceiling's own test asks through `ceilinged`.
 */
const forwarder = new Forwarder('http', 'cfg', undefined, {
  forwardMs: BOUND_MS,
  relayMs: BOUND_MS,
  ceilingMs: 4 * CEILING_MS,
});
const ceilinged = new Forwarder('http', 'cfg', undefined, {
  forwardMs: BOUND_MS,
  relayMs: BOUND_MS,
  ceilingMs: CEILING_MS,
});

const VALUE = Buffer.alloc(3000, 'v');
const SCAN_ANSWER = JSON.stringify({
  items: [
    { key: 'a', value_base64: VALUE.toString('base64') },
    { key: 'b', value_base64: Buffer.from('2').toString('base64') },
  ],
  next: null,
});

/**
 * How each twin answers: `whole` at once, `trickle` whole, `stall` after two pieces, `mute` never,
 * `endless` for ever; `busy` as `trickle`, but after its second piece it keeps this thread busy
 * for BUSY_MS (the forwarding node parsing another large answer): the piece waits unread while
 * the bound runs out.
 */
type Manner = 'whole' | 'trickle' | 'stall' | 'mute' | 'endless' | 'busy';
const BUSY_MS = 2 * BOUND_MS;

/** busyFor keeps this thread busy for `ms`. */
function busyFor(ms: number): void {
  for (const until = performance.now() + ms; performance.now() < until;);
}

/** pieces splits `text` into PIECES parts of about the same length. */
function pieces(text: string): string[] {
  const size = Math.ceil(text.length / PIECES);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** answerIn answers `res` with `text` in the given manner. */
function answerIn(manner: Manner, res: ServerResponse, text: string): void {
  if (manner === 'mute') return;
  if (manner === 'whole') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  const parts = pieces(text);
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    if (manner === 'endless') {
      res.write(' ');
      return;
    }
    if (manner === 'stall' && i === 2) {
      clearInterval(timer);
      return;
    }
    res.write(parts[i++]!);
    // Busy in a callback of its own after the I/O phase (setImmediate), so that the timers come
    // first once it ends: the piece just written is still unread then.
    if (manner === 'busy' && i === 2) setImmediate(busyFor, BUSY_MS);
    if (i === parts.length) {
      clearInterval(timer);
      res.end();
    }
  }, TRICKLE_MS);
}

/** twinOf starts an owner that answers a scan part, or a key's GET with VALUE, in `manner`. */
async function twinOf(manner: Manner): Promise<HandlerTwin> {
  return startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    answerIn(manner, res, (req.url ?? '').startsWith('/kv?') ? SCAN_ANSWER : VALUE.toString());
  });
}

const twins = new Map<Manner, HandlerTwin>();
before(async () => {
  for (const manner of ['whole', 'trickle', 'stall', 'mute', 'endless', 'busy'] as const)
    twins.set(manner, await twinOf(manner));
  // The first exchange of a process sets up its HTTP client (undici compiles its parser): on a
  // loaded machine that took longer than BOUND_MS, and the first test failed for an owner that
  // had answered. Each forwarder makes one with an owner that answers at once.
  for (const f of [forwarder, ceilinged])
    await f.relay(twins.get('whole')!.address, 'GET', '/kv/k', undefined);
});

after(async () => {
  await forwarder.close();
  await ceilinged.close();
  await Promise.all([...twins.values()].map((t) => t.stop()));
});

/** scanOf asks the twin of `manner` for a scan part. */
function scanOf(manner: Manner): ReturnType<Forwarder['scan']> {
  return forwarder.scan(twins.get(manner)!.address, [1], Buffer.alloc(0), undefined, {
    limit: 10,
    maxBytes: 1 << 20,
  });
}

/** failureOf runs `call`, which must fail, and gives its message and how long it took. */
async function failureOf(call: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const start = performance.now();
  const err = await call().then(
    () => assert.fail('a silent owner is an error'),
    (e: unknown) => e,
  );
  return { message: (err as Error).message, ms: performance.now() - start };
}

describe('a forwarded scan part', () => {
  it('succeeds when its owner streams the answer steadily for longer than forward_timeout_ms', async () => {
    const start = performance.now();
    const part = await scanOf('trickle');
    const ms = performance.now() - start;
    assert.ok(ms > 3 * BOUND_MS, `the answer took ${ms.toFixed(0)} ms: not longer than the bound`);
    assert.deepEqual(
      part.entries.map((e) => [e.key.toString(), e.value.length]),
      [
        ['a', VALUE.length],
        ['b', 1],
      ],
    );
    assert.equal(part.more, false);
  });

  it('is not failed for a silence of its own thread: the chunks that came meanwhile are read first', async () => {
    const part = await scanOf('busy');
    assert.deepEqual(
      part.entries.map((e) => e.key.toString()),
      ['a', 'b'],
    );
  });

  it('fails about the bound after its owner goes silent mid-body, naming the setting', async () => {
    const { message, ms } = await failureOf(() => scanOf('stall'));
    assert.match(
      message,
      /^no more of the answer within 300 ms, after \d+ bytes of its body \(server\.forward_timeout_ms\)$/,
    );
    // two pieces at TRICKLE_MS, then the bound (undici's timer may add a little)
    const expected = 2 * TRICKLE_MS + BOUND_MS;
    assert.ok(ms >= expected - 30 && ms < expected + LATE_MS, `gave up after ${ms.toFixed(0)} ms`);
  });

  it('fails after the bound when its owner never sends the head, naming the setting', async () => {
    const { message, ms } = await failureOf(() => scanOf('mute'));
    assert.equal(message, `no answer within ${BOUND_MS} ms (server.forward_timeout_ms)`);
    assert.ok(ms >= BOUND_MS - 20 && ms < BOUND_MS + LATE_MS, `gave up after ${ms.toFixed(0)} ms`);
  });

  it('fails at the ceiling when its owner never stops trickling, naming the ceiling', async () => {
    const { message, ms } = await failureOf(() =>
      ceilinged.scan(twins.get('endless')!.address, [1], Buffer.alloc(0), undefined, {
        limit: 10,
        maxBytes: 1 << 20,
      }),
    );
    assert.match(
      message,
      /^answer not complete within 2500 ms, after \d+ bytes of its body, though the owner kept sending \(the ceiling of a forwarded exchange; server\.forward_timeout_ms bounds each silence\)$/,
    );
    assert.ok(ms >= CEILING_MS - 20 && ms < CEILING_MS + LATE_MS, `gave up after ${ms.toFixed(0)} ms`);
  });
});

describe('a forwarded batch part', () => {
  it('fails after the bound when its owner never answers, as before', async () => {
    const { message, ms } = await failureOf(() =>
      forwarder.batch(twins.get('mute')!.address, [{ op: 'delete', key: 'k' }]),
    );
    assert.equal(message, `no answer within ${BOUND_MS} ms (server.forward_timeout_ms)`);
    assert.ok(ms >= BOUND_MS - 20 && ms < BOUND_MS + LATE_MS, `gave up after ${ms.toFixed(0)} ms`);
  });
});

describe('a GET relayed through --proxy', () => {
  /** target is where the node relays shard 0's requests. */
  const target: OwnerTarget = { local: false, address: '' };
  let server: Http1Server | undefined;
  let node = '';

  before(async () => {
    const router = new Router();
    registerKvRoutes(router, remoteShardContext(target, forwarder));
    let port: number;
    ({ port, server } = await startRouterServer(router));
    node = `127.0.0.1:${port}`;
  });

  after(() => {
    server?.close();
  });

  it('relays a value its owner streams steadily for longer than the bound', async () => {
    target.address = twins.get('trickle')!.address;
    const res = await fetch(`http://${node}/kv/k`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), VALUE.toString());
  });

  it('answers 503 naming the shard, the owner and the bound when the owner goes silent mid-body', async () => {
    const owner = twins.get('stall')!.address;
    target.address = owner;
    const start = performance.now();
    const res = await fetch(`http://${node}/kv/k`);
    const ms = performance.now() - start;
    assert.equal(res.status, 503);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'SHARD_UNREACHABLE');
    assert.ok(
      error.message.startsWith(
        `shard 0 (owner ${owner}) did not answer the forwarded request: no more of the answer within ${BOUND_MS} ms`,
      ),
      error.message,
    );
    assert.match(error.message, /server\.forward_timeout_ms/);
    assert.ok(ms < 2 * TRICKLE_MS + BOUND_MS + LATE_MS, `answered after ${ms.toFixed(0)} ms`);
  });
});
