/**
 * One load thread's work (run on a piscina thread by workers/loadgen-worker.ts, or inline in tests):
 * open `connections` drivers and keep each one busy with one operation at a time until the
 * duration or the request count is reached, then let in-flight operations finish (at most
 * DRAIN_MS). Closed loop by default; with `rate`, open loop: operation i of a connection is due at
 * start + i·interval and its latency counts from that due time, not from when it could be sent, so
 * a stalled server shows up in the percentiles (coordinated-omission correction, as in wrk2).
 * Operations due before the warm-up ends are not recorded. Completions are counted in a shared
 * Int32Array (`progress`, two slots per thread: done, errors) for the live progress line. A
 * non-zero `stop` flag (set by the main thread at Ctrl-C) ends the work early: no new operation is
 * issued, in-flight ones finish (at most DRAIN_MS), and the result covers what was recorded.
 */
import { DistkvClient } from '../client/client.js';
import {
  ClientDriver,
  type Driver,
  OP_DEL,
  OP_GET,
  OP_SET,
  type Op,
  RawDriver,
  STATUS_TIMEOUT,
} from './driver.js';
import { LatencyHistogram } from './histogram.js';
import { httpWire, RequestCache, redisWire } from './wire.js';
import { chooserFor, Rng } from './zipf.js';

/** DRAIN_MS bounds the wait for in-flight operations after the end. */
export const DRAIN_MS = 5000;

/** TargetSpec says what a thread connects to. */
export interface TargetSpec {
  /** http: raw HTTP to host:port; redis: RESP to host:port; client: the client library with `urls`. */
  kind: 'http' | 'redis' | 'client';
  host: string;
  port: number;
  urls: string[];
}

/** ThreadTask is one thread's share of a load run. */
export interface ThreadTask {
  mode: 'run' | 'preload';
  target: TargetSpec;
  connections: number;
  /** mix is [get, set, del] weights summing to 1. */
  mix: [number, number, number];
  keys: number;
  /** preload sets keys [keyFirst, keyLast). */
  keyFirst: number;
  keyLast: number;
  keyPrefix: string;
  dist: string;
  valueSize: number;
  seed: number;
  warmupMs: number;
  /** durationMs is the recorded run time; with `requests`, or for a preload, the longest it may take. */
  durationMs: number;
  /** requests is this thread's total after warm-up (0 = until the duration ends). */
  requests: number;
  /** rate is this thread's target operations per second (0 = closed loop). */
  rate: number;
  progress: SharedArrayBuffer;
  slot: number;
  /** stop is one Int32 the main thread sets to 1 to end the work early (Ctrl-C). */
  stop?: SharedArrayBuffer;
}

/** ThreadResult is what a thread reports back. */
export interface ThreadResult {
  histogram: string;
  ok: number;
  errors: number;
  byStatus: Record<string, number>;
  /** recordedMs is the time from the end of the warm-up to the last recorded completion. */
  recordedMs: number;
}

/** isOk says whether a status is a served operation (a GET of a missing key is one). */
function isOk(status: number): boolean {
  return (status >= 200 && status < 300) || status === 404;
}

/** valueOf builds the value written by SETs: `size` printable bytes. */
function valueOf(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26);
  return b;
}

/** runThread performs a ThreadTask. */
export async function runThread(task: ThreadTask): Promise<ThreadResult> {
  const progress = new Int32Array(task.progress);
  const stopFlag = task.stop === undefined ? undefined : new Int32Array(task.stop);
  const stopped = (): boolean => stopFlag !== undefined && Atomics.load(stopFlag, 0) !== 0;
  const hist = new LatencyHistogram();
  const byStatus = new Map<number, number>();
  let ok = 0;
  let errors = 0;
  let client: DistkvClient | undefined;
  const drivers: Driver[] = [];
  const t = task.target;
  if (t.kind === 'client') {
    client = new DistkvClient({ urls: t.urls, connections: task.connections });
    await client.topology();
  }
  const wire = t.kind === 'redis' ? redisWire() : httpWire(`${t.host}:${t.port}`);
  const value = valueOf(task.valueSize);
  const requests = new RequestCache(wire, task.keyPrefix, task.keys, value);
  for (let c = 0; c < task.connections; c++)
    drivers.push(
      client !== undefined
        ? new ClientDriver(client, task.keyPrefix, value)
        : new RawDriver(t.host, t.port, wire, requests),
    );

  const t0 = performance.now();
  const recordFrom = task.mode === 'preload' ? t0 : t0 + task.warmupMs;
  // durationMs always bounds a thread, also when it runs a request count or a preload.
  const endAt = recordFrom + task.durationMs;
  const interval = task.rate > 0 ? (1000 * task.connections) / task.rate : 0;
  let recordedUntil = recordFrom;
  let recordedIssued = 0;
  let nextPreload = task.keyFirst;
  const mixGet = task.mix[0];
  const mixSet = task.mix[0] + task.mix[1];

  const count = (status: number, record: boolean, latencyMs: number, now: number): void => {
    const good = isOk(status);
    Atomics.add(progress, task.slot * 2, 1);
    if (!good) Atomics.add(progress, task.slot * 2 + 1, 1);
    if (!record) return;
    if (now > recordedUntil) recordedUntil = now;
    // Latencies are those of served operations: a node answering 503 at once would otherwise
    // pull the percentiles down (errors are counted, and reported, on their own).
    if (good) {
      hist.record(latencyMs * 1000);
      ok++;
    } else errors++;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  };

  let running = 0;
  // inFlight counts operations sent and not answered; `running` also counts open-loop connections
  // idle until their next due time, which a stop or the end does not wait for.
  let inFlight = 0;
  const finished = new Promise<void>((resolve) => {
    const startConn = (c: number): void => {
      const driver = drivers[c]!;
      const rng = new Rng(task.seed * 7919 + c);
      const chooser = chooserFor(task.dist, task.keys, task.seed * 104729 + c);
      let due = t0 + (interval * c) / task.connections;
      running++;
      const stop = (): void => {
        if (--running === 0) resolve();
      };
      const issue = (): void => {
        const now = performance.now();
        let op: Op;
        let key: number;
        if (task.mode === 'preload') {
          if (nextPreload >= task.keyLast || now >= endAt || stopped()) {
            stop();
            return;
          }
          op = OP_SET;
          key = nextPreload++;
        } else {
          if (now >= endAt || stopped()) {
            stop();
            return;
          }
          const u = rng.next();
          op = u < mixGet ? OP_GET : u < mixSet ? OP_SET : OP_DEL;
          key = chooser.next();
        }
        const start = interval > 0 ? due : now;
        const record = start >= recordFrom;
        if (record && task.requests > 0 && recordedIssued++ >= task.requests) {
          stop();
          return;
        }
        inFlight++;
        driver.op(op, key, (status) => {
          inFlight--;
          const end = performance.now();
          count(status, record, end - start, end);
          if (interval === 0) {
            issue();
            return;
          }
          due += interval;
          const wait = due - performance.now();
          if (wait > 0.5) setTimeout(issue, wait);
          else issue();
        });
      };
      const first = interval > 0 ? due - performance.now() : 0;
      if (first > 0.5) setTimeout(issue, first);
      else issue();
    };
    for (let c = 0; c < drivers.length; c++) startConn(c);
  });

  const drain = { timedOut: false };
  let over = false;
  void finished.then(() => (over = true));
  let stoppedAt = Number.POSITIVE_INFINITY;
  const drainTimer = new Promise<void>((resolve) => {
    const check = (): void => {
      if (stoppedAt === Number.POSITIVE_INFINITY && stopped()) stoppedAt = performance.now();
      const ended = performance.now() >= Math.min(endAt, stoppedAt);
      if (over || (ended && inFlight === 0)) resolve();
      else if (performance.now() > Math.min(endAt, stoppedAt) + DRAIN_MS) {
        drain.timedOut = true;
        resolve();
      } else setTimeout(check, 50).unref();
    };
    check();
  });
  await Promise.race([finished, drainTimer]);
  if (drain.timedOut && inFlight > 0) {
    errors += inFlight;
    byStatus.set(STATUS_TIMEOUT, (byStatus.get(STATUS_TIMEOUT) ?? 0) + inFlight);
  }
  for (const d of drivers) d.close();
  await client?.close();
  return {
    histogram: hist.encode(),
    ok,
    errors,
    byStatus: Object.fromEntries(
      [...byStatus].map(([s, n]) => [
        s === STATUS_TIMEOUT ? 'timeout' : s === 0 ? 'connection' : String(s),
        n,
      ]),
    ),
    recordedMs: recordedUntil - recordFrom,
  };
}
