/**
 * `node dist/bench/host-batch-cpu.js [--before DIR] [--batches 1,5,10,25,50] [--puts 60000]
 * [--rounds 3] [--durability interval] [--keys 100000] [--tool cpu|callgrind]`: what a shard worker spends per PUT as a
 * function of how many PUTs arrive in one op batch (one message from the main thread), without the
 * thread and the sockets: a ShardHost (src/worker/shard-host.ts) opened on this thread over
 * config/default.toml's layout (4 leader stores and their 4 replicas, mirrored through the one
 * commit log, 64 MiB memtables), fed op batches of B PUTs (100-byte values, random keys of `--keys`
 * routed by slot to their shard's leader) as the main thread encodes them; the next batch is handed
 * over once every reply of the previous one came back (a closed loop of B requests).
 *
 * It prints the process's CPU (user + system, process.cpuUsage: this thread, V8's helpers, libuv's
 * pool) per PUT for each B, and the reply messages and commit log batches per PUT. The CPU per PUT
 * at B = 1 less that at B = 50 is what one batch costs beyond its PUTs (the turn, the group commit's
 * bookkeeping, the reply message); at c50 under wrk a worker sees batches of 5-50 PUTs depending on
 * the load. With `--before DIR` (another built checkout) each round runs both builds, alternated,
 * each in a child process of its own. Each run writes `--puts` PUTs after as many unmeasured ones.
 * `--tool callgrind` counts instructions instead (valgrind, node `--single-threaded`): two runs of
 * each build, of `--puts` and twice as many measured PUTs after the same warm-up, subtracted, so
 * start-up cancels out (slow: minutes per figure; a JIT or GC difference between the two runs
 * still lands in the figure). `--together` (with `--before`, `--tool cpu`) runs the two builds' children
 * at the same time instead of one after the other, so that both meet the same load from other jobs on
 * a shared machine, and adds the median of the rounds' after ÷ before ratios.
 * Internal: `--child ROOT --batch N --warm N` run one build's measurement (this script spawns them).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FromWorker } from '../src/worker/messages.js';
import { arg, choice, count, counts, DURABILITIES } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { hostLayout, SLOTS } from './lib/host-layout.js';
import { ROOT } from './lib/processes.js';

const BEFORE = arg('before', '');
const BATCHES = counts('batches', '1,5,10,25,50');
const PUTS = count('puts', 60000);
const ROUNDS = count('rounds', 3);
const DURABILITY = choice('durability', 'interval', DURABILITIES);
const KEYS = count('keys', 100000);
const CHILD_ROOT = arg('child', '');
const BATCH = count('batch', 10);
const TOOL = arg('tool', 'cpu');
const WARM = count('warm', 0, 0);
const TOGETHER = process.argv.includes('--together');
const UNIT = TOOL === 'callgrind' ? 'instructions' : 'CPU µs';
const SHARDS = 4;

/** Run is one child's figures. */
interface Run {
  cpuUs: number;
  replyMessages: number;
}

/** child runs one build's host at one batch size and prints its Run as JSON. */
async function child(root: string): Promise<void> {
  // Either build's modules, loaded by path, typed as this build's (the API used here is the same).
  const dist = <T>(p: string): Promise<T> => import(pathToFileURL(join(root, 'dist', p)).href) as Promise<T>;
  const { ShardHost } = await dist<typeof import('../src/worker/shard-host.js')>('src/worker/shard-host.js');
  const { RequestWriter, ReplyReader } =
    await dist<typeof import('../src/worker/op-codec.js')>('src/worker/op-codec.js');
  const { Positions } = await dist<typeof import('../src/replication/positions.js')>(
    'src/replication/positions.js',
  );
  const { slotOf } = await dist<typeof import('../src/routing/slot.js')>('src/routing/slot.js');
  const { OP_PUT } = await dist<typeof import('../src/worker/op-format.js')>('src/worker/op-format.js');
  const dir = mkdtempSync(join(tmpdir(), 'distkv-host-batch-'));
  const specs = hostLayout(dir, SHARDS, DURABILITY);
  let answered = 0;
  let replyMessages = 0;
  let wake: (() => void) | undefined;
  const host = await ShardHost.open(
    specs,
    new SharedArrayBuffer(Positions.bytesFor(specs.length)),
    (msg: FromWorker) => {
      if (msg.type !== 'replies') return;
      replyMessages++;
      const r = new ReplyReader(msg.buffer, msg.length);
      while (r.next()) {
        if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`reply status ${r.status}`);
        answered++;
      }
      if (wake !== undefined && answered >= want) wake();
    },
  );
  const value = Buffer.alloc(100, 118);
  const keys = Array.from({ length: KEYS }, (_, i) => `key${i}`);
  const shardOfKey = keys.map((k) => Math.floor(slotOf(k) / (SLOTS / SHARDS)));
  let want = 0;
  // One writer for every batch, as the main thread keeps one per worker (take() resets it).
  const w = new RequestWriter();
  const run = async (puts: number): Promise<void> => {
    for (let done = 0; done < puts; done += BATCH) {
      for (let j = 0; j < BATCH; j++) {
        const k = Math.floor(Math.random() * KEYS);
        w.add(j, OP_PUT, shardOfKey[k]!, keys[k]!, value);
      }
      want = answered + BATCH;
      const { buffer, length } = w.take();
      const replied = new Promise<void>((r) => (wake = r));
      host.handle({ type: 'ops', buffer, length });
      await replied;
      wake = undefined;
    }
  };
  await run(WARM > 0 ? WARM : PUTS);
  const messages0 = replyMessages;
  const t0 = process.cpuUsage();
  await run(PUTS);
  const cpu = process.cpuUsage(t0);
  const out: Run = {
    cpuUs: (cpu.user + cpu.system) / PUTS,
    replyMessages: (replyMessages - messages0) / PUTS,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // Not closed: a close flushes the memtables, work that grows with the keys written (callgrind's
  // totals of two runs are subtracted); the directory goes with the process's temp dir below.
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** childArgs are the arguments of a child measuring build `root` at batch size `batch`. */
function childArgs(root: string, batch: number, puts: number): string[] {
  return [
    join(ROOT, 'dist', 'bench', 'host-batch-cpu.js'),
    '--child',
    root,
    '--batch',
    String(batch),
    '--puts',
    String(puts),
    '--warm',
    String(PUTS),
    '--durability',
    DURABILITY,
    '--keys',
    String(KEYS),
  ];
}

/** runTogether measures every build of `roots` at batch size `batch` at once, a child each (`--together`). */
function runTogether(roots: readonly string[], batch: number): Promise<Run[]> {
  return Promise.all(
    roots.map(
      (root) =>
        new Promise<Run>((done, fail) => {
          const c = spawn(process.execPath, childArgs(root, batch, PUTS), {
            env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'pipe', 'pipe'],
            timeout: 600_000,
          });
          let out = '';
          let err = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.stderr.on('data', (d: Buffer) => (err += d.toString()));
          c.on('close', (code) => {
            if (code === 0) done(JSON.parse(out.trim().split('\n').pop()!) as Run);
            else fail(new Error(`child failed: ${err}`));
          });
        }),
    ),
  );
}

function spawnChild(
  root: string,
  batch: number,
  puts: number,
  callgrind: boolean,
): ReturnType<typeof spawnSync> {
  const args = childArgs(root, batch, puts);
  const r = callgrind
    ? spawnSync(
        'valgrind',
        [
          '--tool=callgrind',
          '--callgrind-out-file=/dev/null',
          process.execPath,
          '--single-threaded',
          ...args,
        ],
        { encoding: 'utf8', env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' }, timeout: 1_200_000 },
      )
    : spawnSync(process.execPath, args, {
        encoding: 'utf8',
        env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' },
        timeout: 600_000,
      });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return r;
}

/**
 * runChild measures one build at one batch size: process CPU per PUT, or with `--tool callgrind`
 * the instructions per PUT, the difference of two runs (PUTS and 2 × PUTS measured PUTs after the
 * same warm-up) over PUTS, so that start-up cancels out.
 */
function runChild(root: string, batch: number): Run {
  if (TOOL !== 'callgrind') {
    const r = spawnChild(root, batch, PUTS, false);
    return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as Run;
  }
  const collected = (puts: number): { n: number; run: Run } => {
    const r = spawnChild(root, batch, puts, true);
    const m = /Collected : (\d+)/.exec(String(r.stderr));
    if (m === null) throw new Error(`no callgrind total: ${String(r.stderr).slice(-500)}`);
    return { n: Number(m[1]), run: JSON.parse(String(r.stdout).trim().split('\n').pop()!) as Run };
  };
  const one = collected(PUTS);
  const two = collected(2 * PUTS);
  return { cpuUs: (two.n - one.n) / PUTS, replyMessages: two.run.replyMessages };
}

async function main(): Promise<void> {
  if (CHILD_ROOT !== '') {
    await child(CHILD_ROOT);
    return;
  }
  const builds: [string, string][] = [['after', ROOT]];
  if (BEFORE !== '') builds.unshift(['before', resolve(BEFORE)]);
  console.log(
    `# host-batch-cpu | ${TOOL} | ${PUTS} PUTs per run | durability ${DURABILITY} | ${KEYS} keys | load ${loadavg()[0]!.toFixed(2)}`,
  );
  const results = new Map<string, Run[]>();
  const ratios = new Map<number, number[]>();
  for (let round = 1; round <= ROUNDS; round++)
    for (const batch of BATCHES) {
      if (TOGETHER && builds.length === 2 && TOOL === 'cpu') {
        const runs = await runTogether(
          builds.map(([, root]) => root),
          batch,
        );
        builds.forEach(([name], i) => {
          const key = `${name} ${batch}`;
          results.set(key, [...(results.get(key) ?? []), runs[i]!]);
        });
        const ratio = runs[1]!.cpuUs / runs[0]!.cpuUs;
        ratios.set(batch, [...(ratios.get(batch) ?? []), ratio]);
        console.log(
          `round ${round} batch ${batch} together: before ${runs[0]!.cpuUs.toFixed(2)}, after ${runs[1]!.cpuUs.toFixed(2)} ${UNIT} per PUT; after ÷ before ${ratio.toFixed(3)} (load ${loadavg()[0]!.toFixed(2)})`,
        );
        continue;
      }
      const order = round % 2 === 1 ? builds : [...builds].reverse();
      for (const [name, root] of order) {
        const r = runChild(root, batch);
        const key = `${name} ${batch}`;
        results.set(key, [...(results.get(key) ?? []), r]);
        console.log(
          `round ${round} ${name} batch ${batch}: ${r.cpuUs.toFixed(2)} ${UNIT} per PUT, ${r.replyMessages.toFixed(3)} reply messages per PUT`,
        );
      }
    }
  for (const batch of BATCHES) {
    const med = (name: string): number => median((results.get(`${name} ${batch}`) ?? []).map((r) => r.cpuUs));
    const line = builds.map(([name]) => `${name} ${med(name).toFixed(2)}`).join(', ');
    const perRound = ratios.get(batch);
    const ratio =
      builds.length === 2
        ? `; after ÷ before ${(med('after') / med('before')).toFixed(3)}` +
          (perRound === undefined ? '' : `, median of the rounds' ratios ${median(perRound).toFixed(3)}`)
        : '';
    console.log(`median batch ${batch}: ${UNIT} per PUT ${line}${ratio} (load ${loadavg()[0]!.toFixed(2)})`);
  }
}

await main();
