/**
 * How long one connection's large replies hold the others (src/server/reply-intake.ts): a RESP
 * client pipelines MGETs of 63 values of 1 MiB each (reading every reply byte) while another
 * client asks for a 5-byte value, one GET at a time, over RESP and over HTTP in turn. Prints, per
 * run, the small GETs' count and worst latency, and their medians over the runs.
 *
 * One `distkv serve` per build and run (one shard, default config, its own temp dir); with
 * --before DIR (another built checkout) the runs alternate between the two builds. The load is
 * bounded: --mgets MGETs per run, --runs runs.
 *
 * --clients N runs N such connections at once, each over 8 keys of its own (a key with reads
 * waiting in the worker's backlog holds later reads of it back anyway, so clients over the same keys
 * queue behind one another): each connection's batches ran a part of 4 MiB of replies whatever the
 * flow before session 64.
 *
 * --watcher adds a watcher over SSE and a client that writes a small key under its prefix, one PUT
 * at a time, while the MGETs run: every write answers the watcher's poll of the worker and the main
 * thread sends the next (a control message every few milliseconds, as a replica's pulls under
 * writes), which ran the worker's whole backlog of large replies before session 64.
 *
 * Usage: node dist/bench/large-reply-stall.js [--mgets 4] [--runs 3] [--clients 1] [--watcher] [--before DIR]
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, count, flag } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { freePort, ROOT, startProcess } from './lib/processes.js';

const MIB = 1024 * 1024;
const KEYS = 8;
const PER_MGET = 63;
const MGETS = Number(arg('mgets', '4'));
const CLIENTS = count('clients', 1);
const RUNS = Number(arg('runs', '3'));
const BEFORE = arg('before', '');
const WATCHER = flag('watcher');
/** RESP_OFFSET is the default `resp_port_offset`: a node's RESP listener is its HTTP port + 1000. */
const RESP_OFFSET = 1000;

interface Run {
  resp: number[];
  http: number[];
  /** writes is the watched writes made meanwhile (--watcher). */
  writes: number;
}

function open(port: number): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect(port, '127.0.0.1', () => {
      res(s);
    });
    s.once('error', rej);
  });
}

function encode(args: string[]): Buffer {
  return Buffer.from(
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
  );
}

/** bigKey is key `k` of client `c`'s large values. */
const bigKey = (c: number, k: number): string => `{big}${c}-${k}`;

/** largeReplies sends MGETS pipelined MGETs of client `c`'s large values and resolves once every reply byte came. */
async function largeReplies(port: number, c: number): Promise<void> {
  const sock = await open(port);
  const keys = Array.from({ length: PER_MGET }, (_, i) => bigKey(c, i % KEYS));
  const expected = MGETS * (`*${PER_MGET}\r\n`.length + PER_MGET * (`$${MIB}\r\n`.length + MIB + 2));
  let got = 0;
  await new Promise<void>((res, rej) => {
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= expected) res();
    });
    sock.on('close', () => {
      rej(new Error(`the large replies' connection closed after ${got} of ${expected} bytes`));
    });
    sock.write(Buffer.concat(Array.from({ length: MGETS }, () => encode(['MGET', ...keys]))));
  });
  sock.destroy();
}

/** smallGets asks for `small` over RESP and HTTP in turn until `done`, and returns each GET's latency. */
async function smallGets(address: string, respPort: number, done: () => boolean): Promise<Run> {
  const sock = await open(respPort);
  const run: Run = { resp: [], http: [], writes: 0 };
  let pending: (() => void) | undefined;
  let text = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    text += d;
    if (text.endsWith('$5\r\nsmall\r\n')) {
      text = '';
      pending?.();
    }
  });
  while (!done()) {
    let t = performance.now();
    await new Promise<void>((res) => {
      pending = res;
      sock.write(encode(['GET', 'small']));
    });
    run.resp.push(performance.now() - t);
    t = performance.now();
    await (await fetch(`http://${address}/kv/small`)).arrayBuffer();
    run.http.push(performance.now() - t);
  }
  sock.destroy();
  return run;
}

/**
 * watchedWrites watches prefix `w/` over SSE and writes `w/key` one PUT at a time until `done`;
 * it returns the number of writes.
 */
async function watchedWrites(address: string, done: () => boolean): Promise<number> {
  const stop = new AbortController();
  const res = await fetch(`http://${address}/watch?prefix=w%2F`, { signal: stop.signal });
  const body = res.body;
  if (!res.ok || body === null) throw new Error(`the watch answered ${res.status}`);
  const reader = body.getReader();
  const reading = (async (): Promise<void> => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // aborted at the end
    }
  })();
  let writes = 0;
  while (!done()) {
    await (await fetch(`http://${address}/kv/w%2Fkey`, { method: 'PUT', body: `v${writes}` })).arrayBuffer();
    writes++;
  }
  stop.abort();
  await reading;
  return writes;
}

async function once(root: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = join(dir, 'one.toml');
  writeFileSync(config, `[[shards]]\nname = "s0"\nidx = 0\naddress = "${address}"\nreplicas = []\n`);
  const args = [join(root, 'bin', 'distkv.js'), 'serve', '--config', config, '--data-dir', join(dir, 'data')];
  const child = await startProcess(args, `http://${address}/healthz`);
  try {
    const value = Buffer.alloc(MIB, 'v');
    for (let c = 0; c < CLIENTS; c++)
      for (let k = 0; k < KEYS; k++)
        await (
          await fetch(`http://${address}/kv/${encodeURIComponent(bigKey(c, k))}`, {
            method: 'PUT',
            body: value,
          })
        ).arrayBuffer();
    await (await fetch(`http://${address}/kv/small`, { method: 'PUT', body: 'small' })).arrayBuffer();
    let finished = false;
    const large = Promise.all(
      Array.from({ length: CLIENTS }, (_, c) => largeReplies(port + RESP_OFFSET, c)),
    ).finally(() => (finished = true));
    const writes = WATCHER ? watchedWrites(address, () => finished) : Promise.resolve(0);
    const run = await smallGets(address, port + RESP_OFFSET, () => finished);
    await large;
    run.writes = await writes;
    return run;
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const worst = (l: number[]): number => Math.max(0, ...l);

async function main(): Promise<void> {
  const builds: [string, string][] = [[BEFORE === '' ? 'this' : 'after', ROOT]];
  if (BEFORE !== '') {
    const dir = resolve(BEFORE);
    if (!existsSync(join(dir, 'dist', 'src', 'cli', 'main.js')))
      throw new Error(`--before ${dir}: not a built checkout (run "npx tsc -p tsconfig.json" there)`);
    builds.push(['before', dir]);
  }
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)}; ` +
      `${CLIENTS} x ${MGETS} pipelined MGETs of ${PER_MGET} x 1 MiB per run, ${RUNS} runs` +
      (WATCHER ? ', with a watcher and watched writes' : ''),
  );
  const worstOf = new Map<string, { resp: number[]; http: number[] }>(
    builds.map(([n]) => [n, { resp: [], http: [] }]),
  );
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? builds : [...builds].reverse();
    for (const [name, root] of order) {
      const run = await once(root);
      const w = worstOf.get(name)!;
      w.resp.push(worst(run.resp));
      w.http.push(worst(run.http));
      console.log(
        `${name.padEnd(6)} run ${r + 1}: small GETs RESP ${run.resp.length}, worst ${worst(run.resp).toFixed(0)} ms; ` +
          `HTTP ${run.http.length}, worst ${worst(run.http).toFixed(0)} ms` +
          (WATCHER ? `; ${run.writes} watched writes` : '') +
          ` (load ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  }
  for (const [name, w] of worstOf)
    console.log(
      `${name.padEnd(6)} median worst: RESP ${median(w.resp).toFixed(0)} ms, HTTP ${median(w.http).toFixed(0)} ms`,
    );
}

await main();
