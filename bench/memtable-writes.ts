/**
 * The memtables' share of a shard worker's CPU per PUT, in the shape of the default layout under
 * `http-count`/`compare.js`'s PUT load: 4 leader memtables and their 4 mirrored replicas' on one
 * thread, `--keys` random keys (`key<N>`, as bench/wrk/put-kv.lua writes) spread over the 4 shards,
 * each write a 100-byte value applied to its leader's memtable and its replica's with the one key
 * hash (`applyHashed`, as lsm-replication.ts's mirror does). A memtable over `--memtable-mb` is
 * replaced by a new one, as a flush would. What it measures is mostly cache misses (the probe, the
 * entry, the key compare): CPU µs per PUT from process.cpuUsage, median of `--rounds` alternated
 * rounds of `--writes` PUTs each, for this build and, with `--before DIR`, another built checkout.
 *
 * Usage: node dist/bench/memtable-writes.js [--before DIR] [--rounds 5] [--writes 400000]
 *        [--keys 10000] [--memtable-mb 64]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, count } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { ROOT } from './lib/processes.js';
import { printHeader } from './micro/header.js';
import type { Memtable } from '../src/storage/memtable.js';

const BEFORE = arg('before', '');
const ROUNDS = count('rounds', 5);
const WRITES = count('writes', 400000);
const KEYS = count('keys', 10000);
const MEMTABLE_BYTES = count('memtable-mb', 64) * 1024 * 1024;
const SHARDS = 4;

/** MemtableLike is what this bench uses of a build's Memtable (the other build's has the same shape). */
type MemtableLike = Pick<Memtable, 'applyHashed' | 'memoryBytes'>;

/** Build is one checkout's memtable and key hash, with its memtables kept across rounds. */
interface Build {
  name: string;
  make: () => MemtableLike;
  hash: (b: Uint8Array, start: number, end: number) => number;
  tables: MemtableLike[];
  results: number[];
}

async function load(name: string, root: string): Promise<Build> {
  const at = (f: string): string => pathToFileURL(resolve(root, 'dist', 'src', 'storage', f)).href;
  const { Memtable } = (await import(at('memtable.js'))) as { Memtable: new () => MemtableLike };
  const { hashBytes } = (await import(at('key-hash.js'))) as { hashBytes: Build['hash'] };
  const tables = Array.from({ length: 2 * SHARDS }, () => new Memtable());
  return { name, make: () => new Memtable(), hash: hashBytes, tables, results: [] };
}

// One seeded sequence of writes (xorshift), the same for every build and round.
const keys = Array.from({ length: KEYS }, (_, n) => Buffer.from(`key${n}`, 'latin1'));
const picks = new Uint32Array(WRITES);
let x = 2463534242;
for (let i = 0; i < WRITES; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  picks[i] = (x >>> 0) % KEYS;
}
const value = Buffer.alloc(100, 0x76);
let seq = 1;

/** round applies WRITES PUTs to `b`'s memtables and returns the CPU µs per PUT. */
function round(b: Build): number {
  const t = b.tables;
  const start = process.cpuUsage();
  for (let i = 0; i < WRITES; i++) {
    const n = picks[i]!;
    const k = keys[n]!;
    const h = b.hash(k, 0, k.length);
    const s = n % SHARDS;
    for (const m of [s, s + SHARDS]) {
      let table = t[m]!;
      if (table.memoryBytes > MEMTABLE_BYTES) table = t[m] = b.make();
      table.applyHashed(h, k, 0, k.length, seq, value, 0, value.length, 0);
    }
    seq++;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / WRITES;
}

printHeader('memtable-writes');
console.log(
  `# ${SHARDS} leaders + ${SHARDS} replicas | ${KEYS} keys | ${WRITES} PUTs per round | memtable ${MEMTABLE_BYTES / 1048576} MiB`,
);
const builds = [await load('after', ROOT)];
if (BEFORE !== '') builds.unshift(await load('before', BEFORE));
for (const b of builds) round(b); // warm-up: compile, fill the memtables with every key
for (let r = 1; r <= ROUNDS; r++) {
  const order = r % 2 === 1 ? builds : [...builds].reverse();
  for (const b of order) {
    const us = round(b);
    b.results.push(us);
    console.log(`round ${r} ${b.name}: ${us.toFixed(3)} µs per PUT`);
  }
}
for (const b of builds)
  console.log(
    `median ${b.name}: ${median(b.results).toFixed(3)} µs per PUT (rounds ${b.results.map((v) => v.toFixed(3)).join(', ')})`,
  );
if (builds.length === 2)
  console.log(`after ÷ before: ${(median(builds[1]!.results) / median(builds[0]!.results)).toFixed(3)}`);
