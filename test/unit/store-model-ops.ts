/**
 * The commands of the randomized Store model test, and their generators (fast-check arbitraries).
 *
 * A command is plain data (keys are indices into KEYS, a value is a size and a tag from which its
 * bytes are derived), so fast-check can shrink a failing sequence and the report can print it as
 * a short script. Value sizes span 0..DEFAULTS.server.max_value_bytes and are weighted towards every
 * size where the storage code changes behaviour: the memtable arena's slab limits, the SSTable block
 * size, the test's memtable and WAL segment sizes, and the maximum.
 *
 * Time is a fake clock the stores and the model share: `tick` advances it, and a put may carry a
 * TTL of a few ticks, so values expire in the memtable, in runs and in LMDB, across reopens and
 * compactions; `expire` writes the leader's expire record (TYPE_EXPIRE) as the reaper would.
 */
import fc from 'fast-check';
import { DEFAULTS } from '../../src/config/schema.js';
import { SLAB_BYTES } from '../../src/storage/memtable-arena.js';
import { BLOCK_BYTES } from '../../src/storage/sstable-format.js';

/** MAX_VALUE is the largest value the server accepts by default. */
export const MAX_VALUE = DEFAULTS.server.max_value_bytes;

/** KEYS are the keys commands use: few, so overwrites are common; prefixes, a non-ASCII key and a 1024-byte key. */
export const KEYS: readonly Buffer[] = [
  'a',
  'a/1',
  'a/2',
  'a/\u00e9',
  'b',
  'b/1',
  'bb',
  'c',
  '\u00e9',
  'L'.repeat(1024),
].map((k) => Buffer.from(k, 'utf8'));

/** PREFIXES are scan prefixes, including the empty one, one that matches nothing and half a UTF-8 sequence. */
export const PREFIXES: readonly Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('a'),
  Buffer.from('a/'),
  Buffer.from('b'),
  Buffer.from([0xc3]),
  Buffer.from('L'),
  Buffer.from('zz'),
];

/** CURSORS are scan `after` cursors besides the keys themselves: before, between and after them. */
const CURSORS: readonly Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('a/'),
  Buffer.from('a0'),
  Buffer.from('\u00ff'),
];

/** LSM_MEMTABLE_BYTES and LSM_SEGMENT_BYTES are the LSM settings the model test draws from. */
export const LSM_MEMTABLE_BYTES = [4096, 65536, 1 << 20] as const;
export const LSM_SEGMENT_BYTES = [4096, 65536, 2 << 20] as const;

/** BOUNDARY_SIZES are the value sizes where the storage code changes behaviour, each with its neighbours. */
export const BOUNDARY_SIZES: readonly number[] = [
  ...new Set(
    [0, 1, 2, SLAB_BYTES / 4, BLOCK_BYTES, ...LSM_MEMTABLE_BYTES, 65536, MAX_VALUE]
      .flatMap((n) => [n - 1, n, n + 1])
      .filter((n) => n >= 0 && n <= MAX_VALUE),
  ),
].sort((x, y) => x - y);

/** Write is one put (size ≥ 0; expiring `ttl` ms after it is issued, 0 = never) or delete (size null) inside a batch. */
export interface Write {
  key: number;
  size: number | null;
  tag: number;
  ttl?: number;
}

/** ModelOp is one step of a model run. */
export type ModelOp =
  | { op: 'put'; key: number; size: number; tag: number; ttl?: number }
  | { op: 'delete'; key: number }
  | { op: 'expire'; key: number }
  | { op: 'tick'; ms: number }
  | { op: 'get'; key: number }
  | { op: 'scan'; prefix: number; after: number | null; limit: number }
  | { op: 'batch'; writes: Write[] }
  | { op: 'flush' }
  | { op: 'idle' }
  | { op: 'reopen' };

/** valueSize draws a value size: mostly small or at a boundary, sometimes anywhere up to the maximum. */
export const valueSize: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 64 }), weight: 4 },
  { arbitrary: fc.constantFrom(...BOUNDARY_SIZES), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: MAX_VALUE }), weight: 1 },
);

const key = fc.nat(KEYS.length - 1);
const tag = fc.nat(255);
/** ttl: mostly none, else a few ms of the fake clock (ticks advance it by 1..40). */
const ttl = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 60 }), weight: 1 },
);

/** CURSOR_BASE: a scan's `after` below it names KEYS[after], at or above it CURSORS[after - CURSOR_BASE]. */
const CURSOR_BASE = KEYS.length;

/** cursorBytes returns the bytes of a scan cursor index. */
export function cursorBytes(after: number): Buffer {
  return after < CURSOR_BASE ? KEYS[after]! : CURSORS[after - CURSOR_BASE]!;
}

const write: fc.Arbitrary<Write> = fc.record({
  key,
  size: fc.oneof({ arbitrary: valueSize, weight: 4 }, { arbitrary: fc.constant(null), weight: 1 }),
  tag,
  ttl,
});

/** modelOp draws one command; `persistent` says whether close-and-reopen is one of them. */
export function modelOp(persistent: boolean): fc.Arbitrary<ModelOp> {
  const ops: fc.WeightedArbitrary<ModelOp>[] = [
    { arbitrary: fc.record({ op: fc.constant('put'), key, size: valueSize, tag, ttl }), weight: 8 },
    { arbitrary: fc.record({ op: fc.constant('delete'), key }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('expire'), key }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('tick'), ms: fc.integer({ min: 1, max: 40 }) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('get'), key }), weight: 1 },
    {
      arbitrary: fc.record({
        op: fc.constant('scan'),
        prefix: fc.nat(PREFIXES.length - 1),
        after: fc.option(fc.nat(CURSOR_BASE + CURSORS.length - 1), { nil: null }),
        limit: fc.integer({ min: 1, max: 12 }),
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        op: fc.constant('batch'),
        writes: fc.array(write, { minLength: 1, maxLength: 6 }),
      }),
      weight: 2,
    },
    { arbitrary: fc.constant({ op: 'flush' }), weight: 1 },
    { arbitrary: fc.constant({ op: 'idle' }), weight: 1 },
  ];
  if (persistent) ops.push({ arbitrary: fc.constant({ op: 'reopen' }), weight: 1 });
  return fc.oneof(...ops);
}

/** valueBytes derives a value's bytes from its size and tag (distinct tags differ almost everywhere). */
export function valueBytes(size: number, tagNo: number): Buffer {
  const v = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) v[i] = (i * 131 + tagNo * 17 + (i >>> 9)) & 0xff;
  return v;
}

/** keyName prints a key briefly (the 1024-byte key as L×1024). */
export function keyName(bytes: Buffer): string {
  return bytes.length > 16
    ? `${bytes.toString('utf8', 0, 1)}×${bytes.length}`
    : JSON.stringify(bytes.toString('latin1'));
}

/** formatOp prints a command as one line of the script a failure report shows. */
export function formatOp(op: ModelOp): string {
  const w = (x: Write): string =>
    x.size === null
      ? `delete ${keyName(KEYS[x.key]!)}`
      : `put ${keyName(KEYS[x.key]!)} ${x.size} B #${x.tag}${x.ttl ? ` ttl ${x.ttl} ms` : ''}`;
  switch (op.op) {
    case 'put':
      return w(op);
    case 'delete':
      return w({ key: op.key, size: null, tag: 0 });
    case 'expire':
      return `expire ${keyName(KEYS[op.key]!)}`;
    case 'tick':
      return `tick ${op.ms} ms`;
    case 'get':
      return `get ${keyName(KEYS[op.key]!)}`;
    case 'scan':
      return `scan prefix=${keyName(PREFIXES[op.prefix]!)} after=${op.after === null ? '-' : keyName(cursorBytes(op.after))} limit=${op.limit}`;
    case 'batch':
      return `batch [${op.writes.map(w).join('; ')}]`;
    default:
      return op.op;
  }
}
