/**
 * What a full memtable really holds against `memtable_bytes`, by key and value size: a memtable is
 * filled until its `bytes` reach the limit (as a store freezes it), then ordered (as its flush
 * does); the heap and buffers it holds (after a full GC) are reported as multiples of the limit,
 * beside its own `memoryBytes` estimate. `--against DIR` measures the memtable of another build
 * (DIR/dist/src/storage/memtable.js) in the same run.
 *
 * Usage: node --expose-gc dist/bench/memtable-memory.js [--limit-mib 64] [--against DIR]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, count } from './lib/args.js';

interface MemtableLike {
  bytes: number;
  size: number;
  memoryBytes: number;
  apply(key: Uint8Array, seq: number, value: Uint8Array | null, expiresAtMs: number): void;
  entries(): Iterable<unknown>;
}
type MemtableClass = new () => MemtableLike;

const LIMIT = count('limit-mib', 64) * 1024 * 1024;
const AGAINST = arg('against', '');
const SIZES: readonly [number, number][] = [
  [8, 0],
  [15, 10],
  [30, 1],
  [15, 100],
  [15, 1000],
];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function held(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** measure fills and orders one memtable; returns its keys and its held memory before and after ordering, ÷ the limit. */
function measure(Memtable: MemtableClass, keyBytes: number, valueBytes: number): string {
  const base = held();
  const m = new Memtable();
  const value = Buffer.alloc(valueBytes, 1);
  for (let i = 0; m.bytes < LIMIT; i++)
    m.apply(Buffer.from(String(i).padStart(keyBytes, 'k')), i + 1, value, 0);
  const filled = held() - base;
  const order = m.entries()[Symbol.iterator]();
  while (order.next().done !== true);
  const ordered = held() - base;
  return `${m.size} keys, ${(filled / LIMIT).toFixed(2)}x, ordered ${(ordered / LIMIT).toFixed(2)}x (memoryBytes ${(m.memoryBytes / LIMIT).toFixed(2)}x)`;
}

async function load(dir: string): Promise<MemtableClass> {
  const url = pathToFileURL(resolve(dir, 'dist/src/storage/memtable.js')).href;
  return ((await import(url)) as { Memtable: MemtableClass }).Memtable;
}

const builds: [string, MemtableClass][] = [['this build', await load('.')]];
if (AGAINST !== '') builds.push([AGAINST, await load(AGAINST)]);
console.log(`node ${process.version}, memtable_bytes ${LIMIT / 1024 / 1024} MiB`);
for (const [key, value] of SIZES)
  for (const [name, Memtable] of builds)
    console.log(`key ${key} B, value ${value} B, ${name}: ${measure(Memtable, key, value)}`);
