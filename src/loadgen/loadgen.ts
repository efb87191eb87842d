/**
 * The load generator behind `distkv bench`: preloads the key space, then drives the target from
 * `threads` piscina threads (workers/loadgen-worker.ts), each owning a share of the connections,
 * the rate and the request count, and merges their HDR histograms. While it runs, a progress line
 * shows live throughput; afterwards it reports throughput, percentiles, errors by status, a
 * per-second throughput timeline and a latency-by-percentile curve (for --report).
 *
 * Every run is bounded: by --duration, or by --requests with a time cap (MAX_RUN_MS).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { loadConfig } from '../config/load-config.js';
import { DistkvError } from '../errors.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { preloadFailure } from './redirects.js';
import { type TargetSpec, type ThreadResult, type ThreadTask } from './load-thread.js';
import { chooserFor } from './zipf.js';

/** MAX_RUN_MS caps a --requests run (and a preload). */
export const MAX_RUN_MS = 600_000;

/** LoadOptions are the options of one load run (the `distkv bench` flags). */
export interface LoadOptions {
  /** url: http://host:port (distkv or any server with /kv/{key}) or redis://host:port. */
  url?: string;
  /** config: a sharding.toml; keys are routed by the client library to their owners. */
  config?: string;
  /** client: drive --url through the client library instead of raw connections. */
  client?: boolean;
  mix: string;
  keys: number;
  dist: string;
  valueSize: number;
  concurrency: number;
  durationS: number;
  requests: number;
  rate: number;
  warmupS: number;
  threads: number;
  preload: boolean;
  keyPrefix: string;
  seed: number;
}

/** DEFAULT_LOAD are the defaults of `distkv bench`. */
export const DEFAULT_LOAD: LoadOptions = {
  mix: 'get:90,set:10',
  keys: 100_000,
  dist: 'uniform',
  valueSize: 100,
  concurrency: 50,
  durationS: 10,
  requests: 0,
  rate: 0,
  warmupS: 2,
  threads: Math.max(1, Math.floor(availableParallelism() / 2)),
  preload: true,
  keyPrefix: 'key:',
  seed: 1,
};

/** LoadResult is the outcome of a run (printed, --json, --report). */
export interface LoadResult {
  target: string;
  options: LoadOptions;
  node: string;
  cpus: number;
  requests: number;
  ok: number;
  errors: number;
  by_status: Record<string, number>;
  duration_s: number;
  /** throughput is served operations per second: errors are not counted in it. */
  throughput: number;
  latency: LatencySummary;
  /** curve: [percentile, µs] points. */
  curve: [number, number][];
  /** timeline: served operations per second after the warm-up (errors not counted). */
  timeline: number[];
  preload?: { keys: number; seconds: number; rate: number };
  /** interrupted names the phase a stop (`runLoad`'s `stop`, Ctrl-C) cut short; the figures cover what was measured. */
  interrupted?: Progress['phase'];
}

/** Progress is reported to `onProgress` about 4 times a second. */
export interface Progress {
  phase: 'preload' | 'warmup' | 'run';
  done: number;
  errors: number;
  elapsedS: number;
  totalS: number;
  /** rate is the served operations per second over the last report interval (errors not counted). */
  rate: number;
}

/** parseMix parses "get:90,set:10[,del:N]" into [get, set, del] fractions. */
export function parseMix(text: string): [number, number, number] {
  const w = { get: 0, set: 0, del: 0 };
  for (const part of text.split(',')) {
    const m = /^(get|set|del):(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (m === null)
      throw new DistkvError('INVALID_ARGUMENT', `--mix: "${part}" is not get:N, set:N or del:N`);
    w[m[1] as 'get' | 'set' | 'del'] = Number(m[2]);
  }
  const sum = w.get + w.set + w.del;
  if (sum <= 0) throw new DistkvError('INVALID_ARGUMENT', '--mix needs a positive weight');
  return [w.get / sum, w.set / sum, w.del / sum];
}

/** targetOf resolves --url/--config into what threads connect to. */
export function targetOf(o: LoadOptions): { spec: TargetSpec; label: string } {
  if (o.config !== undefined) {
    const cfg = loadConfig(o.config);
    const urls = [...new Set(cfg.shards.map((s) => `http://${s.address}`))];
    return {
      spec: { kind: 'client', host: '', port: 0, urls },
      label: `client-routed cluster of ${o.config}`,
    };
  }
  if (o.url === undefined) throw new DistkvError('INVALID_ARGUMENT', 'give --url URL or --config FILE');
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new DistkvError('INVALID_ARGUMENT', `--url: "${o.url}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  const kind =
    u.protocol === 'redis:' ? 'redis' : u.protocol === 'http:' ? (o.client ? 'client' : 'http') : undefined;
  if (kind === undefined)
    throw new DistkvError('INVALID_ARGUMENT', `--url must be http:// or redis://, got ${u.protocol}`);
  const port = Number(u.port || (kind === 'redis' ? 6379 : 80));
  return { spec: { kind, host: u.hostname, port, urls: [u.origin] }, label: o.url };
}

/** split divides `total` into `n` integer shares that differ by at most one. */
function split(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

/** validate checks option ranges; returns the normalised mix. */
function validate(o: LoadOptions): [number, number, number] {
  const bad = (m: string): never => {
    throw new DistkvError('INVALID_ARGUMENT', m);
  };
  if (!Number.isInteger(o.keys) || o.keys < 1) bad('--keys must be a positive integer');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) bad('--concurrency must be a positive integer');
  if (!Number.isInteger(o.threads) || o.threads < 1) bad('--threads must be a positive integer');
  if (o.threads > o.concurrency)
    bad('--threads cannot exceed --concurrency (each thread needs a connection)');
  if (!(o.durationS > 0) && !(o.requests > 0)) bad('give --duration S or --requests N');
  if (o.valueSize < 0 || !Number.isInteger(o.valueSize)) bad('--value-size must be an integer ≥ 0');
  if (o.rate < 0 || o.warmupS < 0) bad('--rate and --warmup must be ≥ 0');
  try {
    chooserFor(o.dist, Math.min(o.keys, 10), 1);
  } catch (err) {
    bad((err as Error).message);
  }
  return parseMix(o.mix);
}

/**
 * runLoad performs a preload (optional) and a load run. Once `stop` is aborted (Ctrl-C) the threads
 * issue nothing more and the result covers what was measured, marked `interrupted` with the phase
 * (a preload cut short skips the run: its result has no requests, and `preload.keys` were set).
 */
export async function runLoad(
  o: LoadOptions,
  onProgress?: (p: Progress) => void,
  stop?: AbortSignal,
): Promise<LoadResult> {
  const mix = validate(o);
  const { spec, label } = targetOf(o);
  const threads = o.threads;
  const conns = split(o.concurrency, threads);
  const pool = new Piscina<ThreadTask, ThreadResult>({
    filename: new URL('../../workers/loadgen-worker.js', import.meta.url).href,
    name: 'run',
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
  });
  const progress = new SharedArrayBuffer(8 * threads);
  const counters = new Int32Array(progress);
  // One Int32 the threads read before each operation: 1 = stop (load-thread.ts).
  const stopFlag = new SharedArrayBuffer(4);
  let current: Progress['phase'] = 'preload';
  let interrupted: Progress['phase'] | undefined;
  const onStop = (): void => {
    interrupted ??= current;
    Atomics.store(new Int32Array(stopFlag), 0, 1);
  };
  if (stop?.aborted === true) onStop();
  else stop?.addEventListener('abort', onStop, { once: true });
  const base: Omit<ThreadTask, 'slot' | 'connections' | 'keyFirst' | 'keyLast' | 'requests' | 'rate'> = {
    mode: 'run',
    target: spec,
    mix,
    keys: o.keys,
    keyPrefix: o.keyPrefix,
    dist: o.dist,
    valueSize: o.valueSize,
    seed: o.seed,
    warmupMs: o.warmupS * 1000,
    durationMs: o.durationS > 0 ? o.durationS * 1000 : MAX_RUN_MS,
    progress,
    stop: stopFlag,
  };
  const total = (): { done: number; errors: number } => {
    let done = 0;
    let errors = 0;
    for (let i = 0; i < threads; i++) {
      done += Atomics.load(counters, 2 * i);
      errors += Atomics.load(counters, 2 * i + 1);
    }
    return { done, errors };
  };
  const watch = (phase: (elapsedS: number) => Progress['phase'], totalS: number, timeline?: number[]) => {
    const t0 = performance.now();
    let last = { at: t0, done: 0 };
    let lastSecond = { at: t0 + o.warmupS * 1000, done: -1 };
    const timer = setInterval(() => {
      const now = performance.now();
      const t = total();
      const served = t.done - t.errors;
      const elapsedS = (now - t0) / 1000;
      current = phase(elapsedS);
      onProgress?.({
        phase: current,
        ...t,
        elapsedS,
        totalS,
        rate: ((served - last.done) * 1000) / (now - last.at),
      });
      last = { at: now, done: served };
      if (timeline !== undefined && now >= lastSecond.at) {
        if (lastSecond.done >= 0) timeline.push(served - lastSecond.done);
        lastSecond = { at: lastSecond.at + 1000, done: served };
      }
    }, 50);
    return () => {
      clearInterval(timer);
    };
  };

  try {
    let preload: LoadResult['preload'];
    if (o.preload && mix[0] > 0) {
      const t0 = performance.now();
      const shares = split(o.keys, threads);
      const stop = watch(() => 'preload', 0);
      let first = 0;
      const results = await Promise.all(
        shares.map((n, slot) => {
          const task: ThreadTask = {
            ...base,
            mode: 'preload',
            durationMs: MAX_RUN_MS,
            slot,
            connections: conns[slot]!,
            keyFirst: first,
            keyLast: (first += n),
            requests: 0,
            rate: 0,
          };
          return pool.run(task);
        }),
      );
      stop();
      const seconds = (performance.now() - t0) / 1000;
      if (interrupted !== undefined) {
        const set = results.reduce((s, r) => s + r.ok, 0);
        return emptyResult(o, label, { keys: set, seconds, rate: set / seconds }, interrupted);
      }
      const errors = results.reduce((s, r) => s + r.errors, 0);
      if (errors > 0) throw preloadFailure(label, o.keys, errors, mergeStatus(results));
      preload = { keys: o.keys, seconds, rate: o.keys / seconds };
      counters.fill(0);
    }
    const timeline: number[] = [];
    const rates = o.rate > 0 ? conns.map((c) => (o.rate * c) / o.concurrency) : conns.map(() => 0);
    const requests = o.requests > 0 ? split(o.requests, threads) : conns.map(() => 0);
    current = o.warmupS > 0 ? 'warmup' : 'run';
    const stop = watch((s) => (s < o.warmupS ? 'warmup' : 'run'), o.warmupS + (o.durationS || 0), timeline);
    const results = await Promise.all(
      conns.map((connections, slot) =>
        pool.run({
          ...base,
          slot,
          connections,
          keyFirst: 0,
          keyLast: 0,
          requests: requests[slot]!,
          rate: rates[slot]!,
        }),
      ),
    );
    stop();
    const hist = new LatencyHistogram();
    for (const r of results) hist.add(LatencyHistogram.decode(r.histogram));
    const ok = results.reduce((s, r) => s + r.ok, 0);
    const errors = results.reduce((s, r) => s + r.errors, 0);
    // A run stopped early covers the time it recorded, not the duration asked for; so does a
    // request count, for which a --duration is only a cap (it may end long before).
    const durationS =
      o.durationS > 0 && o.requests === 0 && interrupted === undefined
        ? o.durationS
        : Math.max(...results.map((r) => r.recordedMs)) / 1000;
    return {
      ...emptyResult(o, label, preload, interrupted),
      requests: ok + errors,
      ok,
      errors,
      by_status: mergeStatus(results),
      duration_s: durationS,
      throughput: durationS > 0 ? ok / durationS : 0,
      latency: hist.summary(),
      curve: hist.curve(),
      timeline,
    };
  } finally {
    stop?.removeEventListener('abort', onStop);
    await pool.destroy();
  }
}

/** emptyResult is a result with nothing measured (a run stopped in its preload), and the base of every result. */
function emptyResult(
  o: LoadOptions,
  label: string,
  preload: LoadResult['preload'],
  interrupted: Progress['phase'] | undefined,
): LoadResult {
  return {
    target: label,
    options: o,
    node: process.version,
    cpus: availableParallelism(),
    requests: 0,
    ok: 0,
    errors: 0,
    by_status: {},
    duration_s: 0,
    throughput: 0,
    latency: new LatencyHistogram().summary(),
    curve: [],
    timeline: [],
    ...(preload === undefined ? {} : { preload }),
    ...(interrupted === undefined ? {} : { interrupted }),
  };
}

function mergeStatus(results: ThreadResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) for (const [s, n] of Object.entries(r.byStatus)) out[s] = (out[s] ?? 0) + n;
  return out;
}
