/**
 * `distkv bench`: the load generator (src/loadgen/) from the command line. Prints a live progress
 * line on stderr, then the result as text (or --json), and writes --report FILE.html. Exits 1 when
 * any operation failed, so scripts notice.
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { parseEndpoint } from '../client/endpoint.js';
import { loadConfig } from '../config/load-config.js';
import { HARD_MAX_VALUE_BYTES } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import { DEFAULT_LOAD, type LoadOptions, runLoad } from '../loadgen/loadgen.js';
import { renderHtml } from '../loadgen/report-html.js';
import { formatResult } from '../loadgen/report-text.js';
import { plural } from '../util/plural.js';
import { formatOptions, intOption, type OptionSpec, parseArgs, stringOption, UsageError } from './args.js';
import { envEndpoints } from './connect.js';
import { fileProblem } from './files.js';
import { removeFile, stopOnSignal } from './interrupt.js';
import { stderrProgress } from './progress-line.js';

const d = DEFAULT_LOAD;

/**
 * BOUNDS are the largest values bench takes, each with what it counts. Beyond them a run is no
 * measurement anyone means: past 10000 connections the load threads spend their time on sockets,
 * past a day a run is a soak test (and past 2^31 ms Node's timers fire at once), past 2^32 keys
 * the choosers' 32-bit random numbers no longer reach every key.
 */
const BOUNDS = {
  concurrency: { min: 1, max: 10_000, what: ' (connections)' },
  threads: { min: 1, max: 1024, what: ' (load threads)' },
  keys: { min: 1, max: 2 ** 32, what: ' (keys: the choosers draw 32-bit numbers)' },
  duration: { max: 86_400, what: ' seconds (a day)' },
  warmup: { max: 86_400, what: ' seconds (a day)' },
  rate: { max: 10_000_000, what: ' operations per second' },
} as const;

const SPECS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    valueName: 'URL',
    help: 'target: HOST:PORT or http://HOST:PORT (distkv /kv API; plain HTTP: not a TLS node), or redis://HOST:PORT (default env DISTKV_URL)',
  },
  config: {
    type: 'string',
    valueName: 'FILE',
    nonEmpty: true,
    help: 'target a cluster by its sharding.toml; the client library routes each key',
  },
  client: {
    type: 'boolean',
    help: 'drive --url through the client library (routing, redirects) instead of raw connections',
  },
  mix: {
    type: 'string',
    valueName: 'MIX',
    help: `operation weights, e.g. get:90,set:10 or get:50,set:40,del:10 (default ${d.mix})`,
  },
  keys: { type: 'string', valueName: 'N', help: `key space size (default ${d.keys})` },
  dist: {
    type: 'string',
    valueName: 'DIST',
    help: `key popularity: uniform | zipf:S, e.g. zipf:0.99 (default ${d.dist})`,
  },
  'value-size': { type: 'string', valueName: 'BYTES', help: `value size of sets (default ${d.valueSize})` },
  concurrency: {
    type: 'string',
    valueName: 'N',
    help: `connections, each with one request in flight (default ${d.concurrency}, at most ${BOUNDS.concurrency.max})`,
  },
  duration: {
    type: 'string',
    valueName: 'S',
    help: `seconds to measure after the warm-up (default ${d.durationS}, at most ${BOUNDS.duration.max})`,
  },
  requests: {
    type: 'string',
    valueName: 'N',
    help: 'measure this many requests instead of a duration (a --duration given too caps the run)',
  },
  rate: {
    type: 'string',
    valueName: 'OPS',
    help: 'open loop at OPS/s with coordinated-omission correction (default: closed loop)',
  },
  warmup: {
    type: 'string',
    valueName: 'S',
    help: `seconds of load before measuring (default ${d.warmupS}, at most ${BOUNDS.warmup.max})`,
  },
  threads: { type: 'string', valueName: 'N', help: `load threads (default ${d.threads}: half the CPUs)` },
  'no-preload': { type: 'boolean', help: 'do not set every key before the run' },
  'key-prefix': {
    type: 'string',
    valueName: 'P',
    help: `key names are P0..P(N-1) (default "${d.keyPrefix}")`,
  },
  seed: { type: 'string', valueName: 'N', help: 'random seed (default 1)' },
  json: { type: 'boolean', help: 'print the result as JSON' },
  report: {
    type: 'string',
    valueName: 'FILE.html',
    nonEmpty: true,
    help: 'write a self-contained HTML report with charts',
  },
  quiet: { type: 'boolean', help: 'no progress line' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = `Usage: distkv bench --url URL | --config FILE [options]

Drives a distkv node (or redis-server, or any server with GET/PUT /kv/{key}) with keep-alive
connections from piscina threads and reports throughput, p50/p90/p99/p99.9/max latency from an
HDR histogram (both of served operations: a 404 read is served, a failed one is not), and errors
by status ("timeout": no answer within 10 s; the connection is then dropped; a RESP error counts
as HTTP's status: -MOVED 307, -TRYAGAIN 503, others 500). Exits 1 when any operation failed.
Raw connections (--url without --client) do not follow redirects: at one node of a multi-node
cluster the keys of other nodes fail with 307, so bench a cluster with --config FILE or --client
(a preload whose sets are all redirected stops with exit 2 and says so).

Options:
${formatOptions(SPECS)}

Examples:
  distkv bench --url http://127.0.0.1:8080 --mix get:90,set:10 --dist zipf:0.99 --duration 30
  distkv bench --url redis://127.0.0.1:6379 --concurrency 50 --json
  distkv bench --config sharding.toml --rate 20000 --report run.html

Ctrl-C (or SIGTERM) stops the run and prints the report of what was measured, marked interrupted,
then exits 130 (143); in the preload or the warm-up it says nothing was measured. A second Ctrl-C
quits at once.`;

/** num reads a number option in 0..BOUNDS[name].max (`fallback` when absent). */
function num(
  args: ReturnType<typeof parseArgs>,
  name: 'duration' | 'warmup' | 'rate',
  fallback: number,
): number {
  const v = stringOption(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  const { max, what } = BOUNDS[name];
  if (v.trim() === '' || !(n >= 0 && n <= max))
    throw new UsageError(`--${name} must be a number in 0..${max}${what}, got "${v}"`);
  return n;
}

/** targetUrl accepts HOST:PORT as http://HOST:PORT, and redis:// as is. */
function targetUrl(text: string | undefined): string | undefined {
  if (text === undefined || text.startsWith('redis://')) return text;
  try {
    return parseEndpoint(text);
  } catch (err) {
    throw new UsageError(`--url: ${(err as Error).message}`);
  }
}

/**
 * refuseTls refuses a --config whose nodes serve HTTPS (server.tls_cert): the load threads speak
 * plain HTTP, and every node closed their requests ("no node answered /cluster ... other side
 * closed ... not a distkv node's HTTP address"), which named no cause.
 */
function refuseTls(file: string): void {
  if (loadConfig(file).server.tls_cert !== '')
    throw new UsageError(
      `--config ${file}: its nodes serve HTTPS (server.tls_cert), and distkv bench speaks plain HTTP and RESP only: bench a node without TLS`,
    );
}

/** bench runs `distkv bench` and returns the exit code. */
export async function bench(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPECS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]!}"`);
  const config = stringOption(args, 'config');
  const url = targetUrl(stringOption(args, 'url') ?? (config === undefined ? envEndpoints()[0] : undefined));
  if ((url === undefined) === (config === undefined))
    throw new UsageError('give exactly one of --url URL (or env DISTKV_URL) or --config FILE');
  if (config !== undefined) refuseTls(config);
  const requests = intOption(args, 'requests') ?? 0;
  const durationS =
    requests > 0 && stringOption(args, 'duration') === undefined ? 0 : num(args, 'duration', d.durationS);
  // A run measures for a time or a count: --duration 0 alone measures neither (0 caps no
  // --requests run). The load generator's "give --duration S or --requests N" read as if no
  // duration had been given.
  if (durationS === 0 && requests === 0)
    throw new UsageError(
      `--duration must be positive (the seconds to measure), got "${stringOption(args, 'duration') ?? ''}"; or give --requests N to measure N requests`,
    );
  const o: LoadOptions = {
    ...d,
    ...(url === undefined ? {} : { url }),
    ...(config === undefined ? {} : { config }),
    client: args.options.get('client') === true,
    mix: stringOption(args, 'mix') ?? d.mix,
    keys: intOption(args, 'keys', BOUNDS.keys) ?? d.keys,
    dist: stringOption(args, 'dist') ?? d.dist,
    valueSize:
      intOption(args, 'value-size', {
        min: 0,
        max: HARD_MAX_VALUE_BYTES,
        what: " bytes (the largest max_value_bytes a node takes; the nodes' own is the bound that counts)",
      }) ?? d.valueSize,
    concurrency: intOption(args, 'concurrency', BOUNDS.concurrency) ?? d.concurrency,
    durationS,
    requests,
    rate: num(args, 'rate', 0),
    warmupS: num(args, 'warmup', d.warmupS),
    threads: intOption(args, 'threads', BOUNDS.threads) ?? d.threads,
    preload: args.options.get('no-preload') !== true,
    keyPrefix: stringOption(args, 'key-prefix') ?? d.keyPrefix,
    seed: intOption(args, 'seed') ?? d.seed,
  };
  const json = args.options.get('json') === true;
  const report = stringOption(args, 'report');
  // Open the report file before the run, so a bad path is reported at once, not after it.
  let reportFd: number | undefined;
  if (report !== undefined) {
    try {
      reportFd = openSync(report, 'w');
    } catch (err) {
      throw fileProblem(`cannot write ${report}`, err);
    }
  }
  const progress = args.options.get('quiet') === true ? undefined : stderrProgress();
  // Ctrl-C ends the run with the report of what was measured; a second Ctrl-C quits at once.
  const stopper = new AbortController();
  const signals = stopOnSignal(() => {
    stopper.abort();
  }, '\ndistkv bench: stopping at the interrupt; reporting what was measured (again to quit at once)');
  const result = await runLoad(
    o,
    (p) => {
      progress?.update(p);
    },
    stopper.signal,
  )
    .catch((err: unknown) => {
      progress?.clear();
      if (err instanceof DistkvError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
      throw err;
    })
    .finally(signals.done);
  progress?.clear();
  const interruptedCode = signals.exitCode() ?? 130;
  if (result.interrupted !== undefined && result.requests === 0) {
    const what =
      result.interrupted === 'preload'
        ? `in the preload (${result.preload?.keys ?? 0} of ${plural(o.keys, 'key')} set)`
        : `in the ${result.interrupted === 'warmup' ? 'warm-up' : 'run'}`;
    process.stderr.write(`distkv bench: interrupted ${what}: nothing measured\n`);
    if (reportFd !== undefined) {
      closeSync(reportFd);
      removeFile(report!);
    }
    return interruptedCode;
  }
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
  if (reportFd !== undefined) {
    writeFileSync(reportFd, renderHtml(result));
    closeSync(reportFd);
    if (!json) process.stdout.write(`report      ${report}\n`);
  }
  if (result.interrupted !== undefined) {
    process.stderr.write(
      `distkv bench: interrupted after ${result.duration_s.toFixed(1)} s of the run: the figures cover that time\n`,
    );
    return interruptedCode;
  }
  return result.errors > 0 ? 1 : 0;
}
