/**
 * Forward silence: how long a node waits for an owner it forwarded a request to (forwarder.ts: a
 * scan or batch part, a `--proxy` relay). The bound is on the owner's silence, not on the
 * exchange's length: `headMs` from the request until the answer's head, then `chunkMs` between
 * two chunks of its body, and a ceiling on the whole (FORWARD_CEILING_MS).
 *
 * Why: a bound on the whole exchange (`server.forward_timeout_ms`, 5 s) failed healthy owners of
 * large answers. A scan part holding a 64 MiB value (`server.max_value_bytes` allows it) comes
 * back as ~89 MB of base64 JSON; under load on 2 cores that took 17-20 s while the owner streamed
 * all along, and the part failed at 5 s every time, so a value could not be read through a node
 * that does not own it without raising a bound meant to catch a dead owner. An owner stopped
 * mid-body (SIGSTOP) is still reported within about the bound, with how much of the body came.
 *
 * Our own timers, reset on each chunk read, rather than undici's `headersTimeout`/`bodyTimeout`:
 * undici's head timer starts only once the request is on a connection (not while connecting, nor
 * while queued behind the agent's busy connections to that owner), and past 1 s its timers are
 * checked only every half second. Here the head's bound starts with the request, as a forwarded
 * write's deadline does (forward-deadline.ts). So for a batch part, whose small answer comes after
 * the owner applied its operations, the head's bound is the one that counts for its writes, and
 * the deadline keeps its meaning: the owner does not start one later than a margin before this
 * node gives up on the head. Once the head came the operations were applied; a body that then
 * stops only loses their results (reported as today: they may have been applied).
 *
 * The silence is the owner's, not this thread's: a bound that ran out while this thread was busy
 * (parsing another large answer) is checked only after the chunks that came meanwhile are read.
 *
 * The ceiling: an owner that sends a byte just within each silence bound (a bug, a slow loop) would
 * otherwise hold the part, its connection and its buffers for ever.
 *
 * The bytes: an answer's body is gathered whole (it is parsed, or relayed, once complete), so it is
 * also bounded in bytes (AnswerCap, worked out by forwarder.ts from what the answer can hold): an
 * owner that streamed an endless body fast enough to beat every silence bound was gathered for up
 * to the ceiling, into memory. A `Content-Length` past the cap is refused unread; a body that
 * passes it is cut there. Either is the owner's failure, named with the cap.
 */
import type { Readable } from 'node:stream';
import { HARD_MAX_FORWARD_TIMEOUT_MS } from '../config/schema.js';
import { letGo } from '../util/peer-answer.js';

/**
 * FORWARD_CEILING_MS bounds a forwarded exchange whole, however steadily its owner answers (each
 * silence is bounded by `server.forward_timeout_ms`): the longest that setting may be (10 minutes),
 * so a healthy exchange of the largest answer (a 64 MiB value, ~89 MB as base64 JSON) is not cut
 * unless it comes slower than ~150 KB/s. A client has given up long before (10 s for the client
 * library); the ceiling only frees the part, its connection and its buffers from an owner that
 * never stops trickling. A bound of the owner's silence that is larger raises it.
 */
export const FORWARD_CEILING_MS = HARD_MAX_FORWARD_TIMEOUT_MS;

/** Silence bounds a forwarded exchange: the owner's silence before its head, between chunks, and the whole. */
export interface Silence {
  headMs: number;
  chunkMs: number;
  ceilingMs: number;
  /** bound names the setting(s) that bound the silences, for the error. */
  bound: string;
}

/** Hearing is what an exchange gets: the signal that aborts it, and `heard`, to call on the head and on each chunk. */
export interface Hearing {
  signal: AbortSignal;
  heard: (bytes: number) => void;
}

/**
 * answered runs `exchange` (a request and the reading of its answer) while its owner is not silent
 * longer than `s` allows (see the design block): `s.headMs` until the exchange reports the head
 * (`heard(0)`), then `s.chunkMs` between two chunks of the body (`heard(bytes)`), and at most
 * `s.ceilingMs` whole (never less than a head's and a chunk's bounds). Past a bound the request is
 * aborted and the error says how long was waited, for what, and which bound that is (undici's own
 * says only "The operation was aborted").
 */
export async function answered<T>(s: Silence, exchange: (hearing: Hearing) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let received = -1; // bytes of the body read; -1 until the head came
  let last = performance.now(); // when the owner was last heard from (or the request went out)
  let why: string | undefined;
  const stop = (reason: string): void => {
    if (why !== undefined) return;
    why = reason;
    controller.abort(new Error(reason));
  };
  // When its timer fires, the silence is checked once this turn's I/O has been read (setImmediate
  // runs after the poll phase): a timer due while this thread was busy (parsing another large
  // answer) fires before the chunks that came meanwhile are read, and would blame the owner.
  const check = (): void => {
    if (why !== undefined) return;
    const allowed = received < 0 ? s.headMs : s.chunkMs;
    const quiet = performance.now() - last;
    if (quiet < allowed) silence = setTimeout(silent, allowed - quiet).unref();
    else
      stop(
        received < 0
          ? `no answer within ${s.headMs} ms (${s.bound})`
          : `no more of the answer within ${s.chunkMs} ms, after ${received} bytes of its body (${s.bound})`,
      );
  };
  const silent = (): void => {
    setImmediate(check);
  };
  // Timers unref'd, as AbortSignal.timeout's are: the request's socket keeps the process up.
  let silence = setTimeout(silent, s.headMs).unref();
  const ceilingMs = Math.max(s.ceilingMs, s.headMs + s.chunkMs);
  const ceiling = setTimeout(() => {
    stop(
      `answer not complete within ${ceilingMs} ms, after ${Math.max(received, 0)} bytes of its body, though the owner kept sending (the ceiling of a forwarded exchange; ${s.bound} bounds each silence)`,
    );
  }, ceilingMs).unref();
  const heard = (bytes: number): void => {
    last = performance.now();
    if (received >= 0) {
      received += bytes;
      return;
    }
    // The head: from now on the bound is a chunk's (a relay's head may wait longer).
    received = bytes;
    clearTimeout(silence);
    silence = setTimeout(silent, s.chunkMs).unref();
  };
  try {
    return await exchange({ signal: controller.signal, heard });
  } catch (err) {
    if (why !== undefined) throw new Error(why, { cause: err });
    throw err;
  } finally {
    why ??= ''; // settled: a check still due stops nothing
    clearTimeout(silence);
    clearTimeout(ceiling);
  }
}

/** AnswerCap bounds a forwarded answer's body: at most `bytes`, which `bound` explains in the error. */
export interface AnswerCap {
  bytes: number;
  bound: string;
}

/** Answer is a forwarded request's answer as undici gives it: its head's fields and its body. */
export interface Answer {
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * bytesOf reads an answer's body whole, reporting its head and then each chunk to `heard`; a body
 * longer than `cap` (or claiming to be) is let go and refused, naming the cap (see above).
 */
export async function bytesOf(
  answer: Answer,
  heard: (bytes: number) => void,
  cap: AnswerCap,
): Promise<Buffer> {
  const claimed = Number(answer.headers['content-length'] ?? NaN);
  if (claimed > cap.bytes) {
    letGo(answer.body);
    throw new Error(
      `its answer's Content-Length ${claimed} is more than the ${cap.bytes} bytes such an answer can hold (${cap.bound}); refused unread`,
    );
  }
  heard(0);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of answer.body) {
    const b = chunk as Buffer;
    heard(b.length);
    received += b.length;
    if (received > cap.bytes) {
      letGo(answer.body);
      throw new Error(
        `its answer's body passed the ${cap.bytes} bytes such an answer can hold (${cap.bound}); cut there`,
      );
    }
    chunks.push(b);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** jsonOf reads an answer's JSON body as `bytesOf` does. */
export async function jsonOf(
  answer: Answer,
  heard: (bytes: number) => void,
  cap: AnswerCap,
): Promise<unknown> {
  return JSON.parse((await bytesOf(answer, heard, cap)).toString('utf8')) as unknown;
}
