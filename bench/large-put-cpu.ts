/**
 * `node dist/bench/large-put-cpu.js [--before DIR] [--size 1048576] [--puts 256] [--batch 2]
 * [--rounds 3] [--durability fsync]`: what a shard worker spends per PUT of a large value, without
 * the thread and the sockets (docs/performance.md, "Large PUTs"). A ShardHost
 * (src/worker/shard-host.ts) is opened on this thread over config/default.toml's layout (4 leader
 * stores and their 4 replicas, mirrored through the one commit log, 64 MiB memtables), and fed op
 * batches of `--batch` PUTs of `--size` bytes (16 keys in turn, as bench/large-values.ts's wrk
 * script: overwrites), the next batch once every reply of the previous one came back. So the
 * figure holds the commit log's lay-out, the memtables, the store's kept copies, and the flushes
 * and compactions that `--puts` PUTs bring (256 of 1 MiB: 4 memtables of each of leader and replica).
 *
 * It prints the process's CPU per PUT (process.cpuUsage: user and system, this thread with V8's
 * helpers and libuv's pool), after as many unmeasured PUTs. With `--before DIR` (another built
 * checkout) each round runs both builds at the same time, a child each, so both meet the same load
 * from other jobs on a shared machine, and prints after ÷ before and the median of the rounds'.
 * Every reply must be a success, and each child reads back every key at the end and checks its
 * bytes (each value is filled from its PUT's number).
 * Internal: `--child ROOT` runs one build's measurement (this script spawns it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FromWorker } from '../src/worker/messages.js';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { hostLayout, SLOTS } from './lib/host-layout.js';
import { ROOT } from './lib/processes.js';

const BEFORE = arg('before', '');
const SIZE = count('size', 1048576);
const PUTS = count('puts', 256);
const BATCH = count('batch', 2);
const ROUNDS = count('rounds', 3);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
const CHILD_ROOT = arg('child', '');
const SHARDS = 4;
const KEYS = 16;
/** VALUES: PUT n writes value n mod VALUES (prime to KEYS, so a key's value changes from one of its PUTs to the next). */
const VALUES = 17;

/** Run is one child's figures: CPU µs per PUT, user and system. */
interface Run {
  userUs: number;
  systemUs: number;
}

/** child runs one build's host and prints its Run as JSON. */
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
  const { OP_GET, OP_PUT } =
    await dist<typeof import('../src/worker/op-format.js')>('src/worker/op-format.js');
  const dir = mkdtempSync(join(tmpdir(), 'distkv-large-put-'));
  const specs = hostLayout(dir, SHARDS, DURABILITY);
  let answered = 0;
  let want = 0;
  let wake: (() => void) | undefined;
  const got: Buffer[] = [];
  const host = await ShardHost.open(
    specs,
    new SharedArrayBuffer(Positions.bytesFor(specs.length)),
    (msg: FromWorker) => {
      if (msg.type !== 'replies') return;
      const r = new ReplyReader(msg.buffer, msg.length);
      while (r.next()) {
        if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`reply status ${r.status}`);
        if (r.value.length > 0) got.push(Buffer.from(r.value));
        answered++;
      }
      if (wake !== undefined && answered >= want) wake();
    },
  );
  const keys = Array.from({ length: KEYS }, (_, i) => `lvput${SIZE}-${i}`);
  const shardOfKey = keys.map((k) => Math.floor(slotOf(k) / (SLOTS / SHARDS)));
  /** last[k] is the number of the last PUT of key k: its value is that number's byte, repeated. */
  const last = new Array<number>(KEYS).fill(-1);
  const values = Array.from({ length: VALUES }, (_, b) => Buffer.alloc(SIZE, b + 1));
  const w = new RequestWriter();
  let n = 0;
  const send = async (count: number): Promise<void> => {
    want = answered + count;
    const { buffer, length } = w.take();
    const replied = new Promise<void>((r) => (wake = r));
    host.handle({ type: 'ops', buffer, length });
    await replied;
    wake = undefined;
  };
  const run = async (puts: number): Promise<void> => {
    for (let done = 0; done < puts; done += BATCH) {
      for (let j = 0; j < BATCH; j++, n++) {
        const k = n % KEYS;
        last[k] = n;
        w.add(j, OP_PUT, shardOfKey[k]!, keys[k]!, values[n % VALUES]);
      }
      await send(BATCH);
    }
  };
  await run(PUTS);
  const t0 = process.cpuUsage();
  await run(PUTS);
  const cpu = process.cpuUsage(t0);
  for (let k = 0; k < KEYS; k++) w.add(k, OP_GET, shardOfKey[k]!, keys[k]!, undefined);
  await send(KEYS);
  for (let k = 0; k < KEYS; k++)
    if (got[k]?.equals(values[last[k]! % VALUES]!) !== true)
      throw new Error(`key ${keys[k]}: read back ${got[k]?.length ?? 'nothing'} bytes, not the last PUT's`);
  process.stdout.write(`${JSON.stringify({ userUs: cpu.user / PUTS, systemUs: cpu.system / PUTS })}\n`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** runTogether measures every build of `roots` at once, a child each. */
function runTogether(roots: readonly string[]): Promise<Run[]> {
  return Promise.all(
    roots.map(
      (root) =>
        new Promise<Run>((done, fail) => {
          const args = [join(ROOT, 'dist', 'bench', 'large-put-cpu.js'), '--child', root];
          for (const [k, v] of [
            ['size', SIZE],
            ['puts', PUTS],
            ['batch', BATCH],
            ['durability', DURABILITY],
          ] as const)
            args.push(`--${k}`, String(v));
          const c = spawn(process.execPath, args, {
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

async function main(): Promise<void> {
  if (CHILD_ROOT !== '') {
    await child(CHILD_ROOT);
    return;
  }
  const builds: [string, string][] = [['after', ROOT]];
  if (BEFORE !== '') builds.unshift(['before', resolve(BEFORE)]);
  console.log(
    `# large-put-cpu | node ${process.version}, ${availableParallelism()} CPUs | ${SIZE} bytes, ${PUTS} PUTs per run, ` +
      `${BATCH} per batch | durability ${DURABILITY} | load ${loadavg()[0]!.toFixed(2)}`,
  );
  const results = new Map<string, Run[]>();
  const ratios: number[] = [];
  const total = (r: Run): number => r.userUs + r.systemUs;
  for (let round = 1; round <= ROUNDS; round++) {
    const runs = await runTogether(builds.map(([, root]) => root));
    builds.forEach(([name], i) => results.set(name, [...(results.get(name) ?? []), runs[i]!]));
    const text = builds
      .map(
        ([name], i) =>
          `${name} ${total(runs[i]!).toFixed(0)} (user ${runs[i]!.userUs.toFixed(0)}, system ${runs[i]!.systemUs.toFixed(0)})`,
      )
      .join(', ');
    if (builds.length === 2) ratios.push(total(runs[1]!) / total(runs[0]!));
    console.log(
      `round ${round}: CPU µs per PUT ${text}${builds.length === 2 ? `; after ÷ before ${ratios.at(-1)!.toFixed(3)}` : ''} (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
  const med = (name: string, f: (r: Run) => number): number => median((results.get(name) ?? []).map(f));
  const line = builds
    .map(
      ([name]) =>
        `${name} ${med(name, total).toFixed(0)} (user ${med(name, (r) => r.userUs).toFixed(0)}, system ${med(name, (r) => r.systemUs).toFixed(0)})`,
    )
    .join(', ');
  const ratio =
    builds.length === 2 ? `; median of the rounds' after ÷ before ${median(ratios).toFixed(3)}` : '';
  console.log(`median: CPU µs per PUT ${line}${ratio} (load ${loadavg()[0]!.toFixed(2)})`);
}

await main();
