/**
 * CPU per request of distkv's own request path, without the kernel: a real node (config, routes,
 * worker pool, shard host; the memory engine, `--inline` by default) whose HTTP/1.1 connections
 * are fed from memory instead of sockets. Each turn, every connection receives one request (GET or
 * PUT /kv/{key}, 100-byte values, 20000 keys set first) and the turn ends when all are answered;
 * the figures are the process's CPU time (all threads, process.cpuUsage) and its main thread's
 * (/proc/thread-self/schedstat, Linux) per request. It leaves out
 * what a socket costs (system calls, Node's stream layer), which http-bench.ts measures with the
 * rest, and it is steady on a shared machine where throughput is not (docs/performance.md).
 *
 * With `--before DIR` (another built checkout) every measurement also runs on that build, in
 * alternation, each in a fresh process; the report gives medians and after ÷ before.
 *
 * `npm run bench:request-path -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/request-path-bench.js [--before DIR] [--rounds 5] [--requests 100000]
 *        [--connections 50] [--threads] [--modes get,put]
 * (`--threads` runs the stores on a worker thread, as `serve` does, instead of inline.)
 * Internal: `--one DIR` measures one build in a process of its own (this script spawns it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, choices, count, flag } from './lib/args.js';
import { ROOT } from './lib/processes.js';
import { median } from './lib/compare-stats.js';

const ROUNDS = count('rounds', 5);
const REQUESTS = count('requests', 100000);
const CONNECTIONS = count('connections', 50);
const THREADS = flag('threads');
const MODES = choices('modes', 'get,put', ['get', 'put'] as const);
const BEFORE = arg('before', '');
const ONE = arg('one', '');
const KEYS = 20000;
const WARMUP_REQUESTS = 60000;
const VALUE = 'v'.repeat(100);

const OK_PREFIX = 'HTTP/1.1 2';
const OK_BYTES = Buffer.from(OK_PREFIX, 'latin1');

function startsWithBytes(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/**
 * mainThreadNs is the CPU time the calling thread has run, in ns (Linux: /proc/thread-self/schedstat),
 * so the main thread's share is measured apart from the shard worker's.
 */
function mainThreadNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

/** FakeSocket is what an Http1Connection uses of a socket; writes are checked and counted. */
class FakeSocket {
  writableNeedDrain = false;
  writableLength = 0;
  private readonly handlers = new Map<string, (arg?: unknown) => void>();
  private readonly answered: () => void;
  constructor(answered: () => void) {
    this.answered = answered;
  }
  on(event: string, handler: (arg?: unknown) => void): this {
    this.handlers.set(event, handler);
    return this;
  }
  emitData(chunk: Buffer): void {
    this.handlers.get('data')?.(chunk);
  }
  write(data: string | Uint8Array): boolean {
    // Checked without a copy: the check costs the same whether the answer is a string or bytes.
    const ok = typeof data === 'string' ? data.startsWith(OK_PREFIX) : startsWithBytes(data, OK_BYTES);
    if (!ok) throw new Error(`unexpected answer: ${Buffer.from(data).toString('latin1', 0, 200)}`);
    this.answered();
    return true;
  }
  setTimeout(): void {}
  pause(): void {}
  resume(): void {}
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  removeAllListeners(): void {}
}

/** measureOne runs in a child process: one build, one mode; prints µs of CPU per request. */
async function measureOne(tree: string, mode: string): Promise<void> {
  const lib = (p: string): string => join(tree, 'dist/src', p);
  // Another checkout's modules: the same shapes as this one's (checked by running them).
  const { loadConfig } = (await import(
    lib('config/load-config.js')
  )) as typeof import('../src/config/load-config.js');
  const { DistkvNode } = (await import(lib('server/node.js'))) as typeof import('../src/server/node.js');
  const { Http1Connection } = (await import(
    lib('http/http1-connection.js')
  )) as typeof import('../src/http/http1-connection.js');
  const { createLogger } = (await import(lib('util/logger.js'))) as typeof import('../src/util/logger.js');
  const dir = mkdtempSync(join(tmpdir(), 'distkv-request-path-'));
  const shards = [0, 1, 2, 3]
    .map((i) => `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "127.0.0.1:1"\nreplicas = []\n`)
    .join('\n');
  writeFileSync(join(dir, 'layout.toml'), shards);
  const config = loadConfig(join(dir, 'layout.toml'), {
    'server.data_dir': join(dir, 'data'),
    'storage.engine': 'memory',
    'storage.durability': 'none',
  });
  const node = await DistkvNode.start({ config, nodes: [], log: createLogger('error'), inline: !THREADS });
  // The listener of the node, reached past its privacy: the connections are fed from memory.
  const server = (
    node as unknown as { frontDoor: { servers: ConstructorParameters<typeof Http1Connection>[1][] } }
  ).frontDoor.servers[0]!;
  let pending = 0;
  let wake: () => void = () => undefined;
  const sockets = Array.from({ length: CONNECTIONS }, () => {
    const s = new FakeSocket(() => {
      if (--pending === 0) wake();
    });
    const conn = new Http1Connection(s as never, server) as unknown as {
      read?: (chunk: Buffer, transient: boolean) => void;
    };
    // A connection reads what its listener hands it (src/server/shared-read.ts); before that, it
    // listened for the socket's 'data' events itself.
    const read = conn.read?.bind(conn);
    if (read !== undefined)
      s.on('data', (chunk) => {
        read(chunk as Buffer, false);
      });
    return s;
  });
  const put = (k: number): Buffer =>
    Buffer.from(
      `PUT /kv/key${k} HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 100\r\n\r\n${VALUE}`,
      'latin1',
    );
  const get = (k: number): Buffer =>
    Buffer.from(`GET /kv/key${k} HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`, 'latin1');
  const turn = async (make: (k: number) => Buffer, i0: number): Promise<void> => {
    pending = CONNECTIONS;
    const done = new Promise<void>((r) => (wake = r));
    sockets.forEach((s, c) => {
      s.emitData(make((i0 + c * 7919) % KEYS));
    });
    await done;
  };
  for (let i = 0; i < KEYS; i += CONNECTIONS) await turn(put, i);
  const make = mode === 'get' ? get : put;
  for (let i = 0; i < WARMUP_REQUESTS; i += CONNECTIONS) await turn(make, i);
  const t0 = process.cpuUsage();
  const main0 = mainThreadNs();
  let n = 0;
  for (; n < REQUESTS; n += CONNECTIONS) await turn(make, n);
  const cpu = process.cpuUsage(t0);
  const mainUs = (mainThreadNs() - main0) / 1000;
  process.stdout.write(`${((cpu.user + cpu.system) / n).toFixed(3)} ${(mainUs / n).toFixed(3)}\n`);
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}

function main(): void {
  const builds = [
    { name: 'after', dir: ROOT },
    ...(BEFORE === '' ? [] : [{ name: 'before', dir: resolve(BEFORE) }]),
  ];
  process.stdout.write(
    `# request-path-bench | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | ${CONNECTIONS} connections, ${REQUESTS} requests per measurement, ${ROUNDS} rounds alternated | memory engine, ${THREADS ? 'stores on a worker thread' : 'inline'}\n`,
  );
  // Per build and mode: CPU µs per request of the whole process, and of its main thread alone.
  const results = new Map<string, { all: number[]; main: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? builds : [...builds].reverse();
    for (const mode of MODES)
      for (const b of order) {
        const args = [join(ROOT, 'dist/bench/request-path-bench.js'), '--one', b.dir, '--modes', mode];
        args.push('--requests', String(REQUESTS), '--connections', String(CONNECTIONS));
        if (THREADS) args.push('--threads');
        const [all, main] = execFileSync(process.execPath, args, { encoding: 'utf8' })
          .trim()
          .split(' ')
          .map(Number);
        const key = `${b.name} ${mode}`;
        const r = results.get(key) ?? { all: [], main: [] };
        r.all.push(all!);
        r.main.push(main!);
        results.set(key, r);
        process.stdout.write(
          `round ${round + 1} ${key}: ${all!.toFixed(2)} µs CPU/request, main thread ${main!.toFixed(2)}\n`,
        );
      }
  }
  process.stdout.write(
    '\n| request | build | µs CPU per request (median) | main thread µs (median) | rounds (all / main) | after ÷ before (all / main) |\n|---|---|---|---|---|---|\n',
  );
  for (const mode of MODES)
    for (const b of builds) {
      const r = results.get(`${b.name} ${mode}`)!;
      const before = results.get(`before ${mode}`);
      const ratio =
        b.name === 'after' && before !== undefined
          ? `${(median(r.all) / median(before.all)).toFixed(2)} / ${(median(r.main) / median(before.main)).toFixed(2)}`
          : '';
      const rounds = r.all.map((x, i) => `${x.toFixed(2)}/${r.main[i]!.toFixed(2)}`).join(' ');
      process.stdout.write(
        `| ${mode.toUpperCase()} /kv | ${b.name} | ${median(r.all).toFixed(2)} | ${median(r.main).toFixed(2)} | ${rounds} | ${ratio} |\n`,
      );
    }
}

if (ONE !== '') await measureOne(ONE, MODES[0]!);
else main();
