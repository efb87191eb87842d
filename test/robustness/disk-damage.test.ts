/**
 * Damage on disk, as a failing disk or a careless operator leaves it: one byte flipped, a file cut
 * short, a page zeroed, at seeded random offsets of every kind of file a store keeps (SSTable
 * runs: data blocks, index, bloom, footer; commit log segments; the LMDB data file). The claims
 * (docs/operations.md, "Damage on disk and `--repair`"): recovery refuses with a CorruptionError naming the file and the
 * offset, or opens; `repair` opens; and no read ever returns a value that was not written for
 * that key (a damaged block is refused at read time, never decoded into a wrong value).
 * The LMDB data file is only cut short here: a flipped byte or a zeroed page inside it can hit
 * LMDB's own page structure, which has no checksums (a value's bytes are covered by
 * lmdb-value-checksum.test.ts).
 * Prints the seed on failure; replay with DISTKV_SEED.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { quietCommitFailure } from '../../src/storage/lmdb-env.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import {
  decodeFrameHeader,
  FRAME_HEADER_BYTES,
  LOG_HEADER_BYTES,
} from '../../src/storage/commit-log-format.js';
import { endOfData } from '../../src/storage/commit-log-reader.js';
import { FOOTER_BYTES } from '../../src/storage/sstable-format.js';
import { type Mark, marksOf } from '../helpers/log-marks.js';
import { openTestLsm } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 240;
/** STORE is the store directory's name under each copy: the log names its records by it (docs/commit-log-format.md). */
const STORE = join('node', 'shard-0');
const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(5, '0')}`);

/** History maps each key to every value it ever had (undefined = absent or deleted). */
type History = Map<string, (string | undefined)[]>;

/** Image is a store directory as a crash left it, and what was written into it. */
interface Image {
  dir: string;
  history: History;
  final: Map<string, string | undefined>;
}

/** buildImage writes a store with data in LMDB, in runs and only in the log, and copies it while it is open. */
async function buildImage(root: string, rnd: () => number): Promise<Image> {
  const live = join(root, 'live', STORE);
  const copy = join(root, 'image', STORE);
  const history: History = new Map();
  const final = new Map<string, string | undefined>();
  const s = await openTestLsm(live, {
    memtableBytes: 12 * 1024,
    maxRuns: 3,
    walSegmentBytes: 2 * 1024,
  });
  const write = async (i: number, del: boolean): Promise<void> => {
    const k = key(i).toString();
    const v = del ? undefined : `v${i}-${Math.floor(rnd() * 1e9)}-`.padEnd(40 + Math.floor(rnd() * 80), 'x');
    if (v === undefined) await s.delete(key(i));
    else await s.put(key(i), Buffer.from(v));
    history.set(k, [...(history.get(k) ?? [undefined]), v]);
    final.set(k, v);
  };
  // Into LMDB (several runs, then a compaction), then into runs, then only into the log's memtable.
  // Which write fills a memtable depends on its accounting (memtable.ts, ENTRY_OVERHEAD), and a
  // compaction takes every run: so the runs are ended by explicit flushes, a pass whose last flush
  // set off a compaction is written again (from no runs, its one or two stay under max_runs), and
  // the last writes, which fit in one memtable, start from an empty one.
  for (let round = 0; round < 3; round++)
    for (let i = 0; i < KEYS; i++) await write(i, round > 0 && rnd() < 0.1);
  await s.flush();
  await s.idle();
  assert.ok(Number(s.stats().lmdbKeys) > 0, `the image has LMDB data: ${JSON.stringify(s.stats())}`);
  for (let pass = 0; pass === 0 || Number(s.stats().runs) === 0; pass++) {
    assert.ok(pass < 3, `the image has runs: ${JSON.stringify(s.stats())}`);
    for (let i = 0; i < KEYS; i += 2) await write(i, rnd() < 0.1);
    await s.flush();
    await s.idle();
  }
  for (let i = 1; i < KEYS; i += 7) await write(i, rnd() < 0.1);
  const stats = s.stats();
  assert.ok(Number(stats.runs) >= 1, `the image has runs: ${JSON.stringify(stats)}`);
  assert.ok(
    Number(stats.memtableKeys) >= 1,
    `the image has writes only in the log: ${JSON.stringify(stats)}`,
  );
  cpSync(live, copy, { recursive: true, filter: (src) => !src.endsWith('lock.mdb') });
  await s.close();
  assert.ok(readdirSync(join(copy, 'log')).length >= 2, 'the image has older log segments');
  return { dir: copy, history, final };
}

/** Region is a byte range of one file where damage is aimed. */
interface Region {
  kind: string;
  file: string;
  start: number;
  end: number;
}

/** regionsOf lists the damage targets of an image: each part of each run, each segment, the LMDB file. */
function regionsOf(dir: string): Region[] {
  const out: Region[] = [];
  const runs = join(dir, 'runs');
  for (const name of readdirSync(runs).filter((n) => n.endsWith('.sst'))) {
    const file = join(runs, name);
    const b = readFileSync(file);
    const f = b.length - FOOTER_BYTES;
    const indexOffset = Number(b.readBigUInt64LE(f + 8));
    const bloomOffset = Number(b.readBigUInt64LE(f + 24));
    out.push({ kind: 'run data block', file, start: 0, end: indexOffset });
    out.push({ kind: 'run index', file, start: indexOffset, end: bloomOffset });
    out.push({ kind: 'run bloom', file, start: bloomOffset, end: f });
    out.push({ kind: 'run footer', file, start: f, end: b.length });
  }
  const log = join(dir, 'log');
  const segments = readdirSync(log)
    .filter((n) => n.endsWith('.log'))
    .sort();
  for (const name of segments) {
    const file = join(log, name);
    const kind = name === segments[segments.length - 1] ? 'newest commit log segment' : 'commit log segment';
    out.push({ kind, file, start: 0, end: statSync(file).size });
  }
  const mdb = join(dir, 'lmdb', 'data.mdb');
  out.push({ kind: 'LMDB data file', file: mdb, start: 0, end: statSync(mdb).size });
  // A copy taken just after the log rolled has an empty newest segment: nothing in it to damage.
  return out.filter((r) => r.end > r.start);
}

type Mode = 'flip' | 'truncate' | 'zero-page';
const MODES: readonly Mode[] = ['flip', 'truncate', 'zero-page'];

/** damage applies `mode` at a random offset of `r` and returns the offset. */
function damage(r: Region, mode: Mode, rnd: () => number): number {
  const at = r.start + Math.floor(rnd() * (r.end - r.start));
  if (mode === 'truncate') {
    truncateSync(r.file, at);
    return at;
  }
  const b = readFileSync(r.file);
  if (mode === 'flip') b[at] = b[at]! ^ (1 + Math.floor(rnd() * 255));
  else b.fill(0, at - (at % 4096), Math.min(b.length, at - (at % 4096) + 4096));
  writeFileSync(r.file, b);
  return at;
}

/**
 * frameEnds returns where each whole frame of an undamaged commit log segment ends: a segment cut
 * exactly there reads as a sealed, shorter segment, and the records cut off show only as a gap in
 * seqs at the start of the next segment, which is the file recovery then names.
 */
function frameEnds(file: string): number[] {
  const b = readFileSync(file);
  const end = endOfData(b);
  const ends: number[] = [LOG_HEADER_BYTES];
  for (let p = LOG_HEADER_BYTES; p < end;) {
    const h = decodeFrameHeader(b, p);
    if (typeof h === 'string') break;
    p += FRAME_HEADER_BYTES + h.len;
    ends.push(p);
  }
  return ends;
}

/** nextSegment is the path of the segment numbered one after `file`'s. */
function nextSegment(file: string): string {
  const name = basename(file);
  const no = Number(name.slice(0, name.indexOf('.')));
  return join(
    dirname(file),
    `${String(no + 1).padStart(name.indexOf('.'), '0')}${name.slice(name.indexOf('.'))}`,
  );
}

/**
 * tornTail tells whether recovery may cut damage at `at` of `r` off as a torn tail by design: the
 * newest segment cut short or zeroed to its end, or damaged where no mark after the damage says the
 * segment was synced past it (bytes no fdatasync was known to cover, as a crash mid-batch leaves).
 */
function tornTail(r: Region, mode: Mode, at: number, marks: readonly Mark[]): boolean {
  if (r.kind !== 'newest commit log segment') return false;
  if (mode === 'truncate' || (mode === 'zero-page' && at - (at % 4096) + 4096 >= r.end)) return true;
  const damageEnd = mode === 'zero-page' ? at - (at % 4096) + 4096 : at + 1;
  return !marks.some((m) => m.at >= damageEnd && m.synced > at);
}

/** checkReads asserts every read returns a value written for its key, or refuses with a CorruptionError. */
function checkReads(s: LsmStore, img: Image, what: string, exact: boolean): void {
  for (let i = 0; i < KEYS; i++) {
    const k = key(i).toString();
    let got: string | undefined;
    try {
      const v = s.get(key(i));
      got = v === undefined ? undefined : Buffer.from(v).toString();
    } catch (err) {
      assert.ok(err instanceof CorruptionError, `${what}: ${k} failed with ${String(err)}`);
      continue;
    }
    if (exact) assert.equal(got, img.final.get(k), `${what}: ${k} lost or altered`);
    else assert.ok(img.history.get(k)!.includes(got), `${what}: ${k} read as a value never written: ${got}`);
  }
}

/** Trial is one damaged copy of the image. */
interface Trial {
  img: Image;
  r: Region;
  mode: Mode;
  rnd: () => number;
}

/** runTrial damages a copy, opens it without and then with repair, and returns what went wrong. */
async function runTrial(dir: string, { img, r: r0, mode, rnd }: Trial): Promise<string[]> {
  cpSync(img.dir, dir, { recursive: true });
  const r = { ...r0, file: join(dir, r0.file.slice(img.dir.length)) };
  const marks = r.kind === 'newest commit log segment' ? marksOf(r.file) : [];
  const ends = r.kind === 'commit log segment' && mode === 'truncate' ? frameEnds(r.file) : [];
  const at = damage(r, mode, rnd);
  // An older segment cut at a frame's end is refused at the next segment's first record (the gap).
  const refusedIn = ends.includes(at) ? [r.file, nextSegment(r.file)] : [r.file];
  const torn = tornTail(r, mode, at, marks);
  const failures: string[] = [];
  for (const repair of [false, true]) {
    const what = `${mode} of ${r.kind} ${basename(r.file)} at ${at} (repair ${repair})`;
    let s: LsmStore;
    try {
      s = await openTestLsm(dir, { repair, maxRuns: 3 });
    } catch (err) {
      if (!(err instanceof CorruptionError))
        failures.push(`${what}: refused without a CorruptionError: ${String(err)}`);
      else if (!refusedIn.includes(err.file))
        failures.push(`${what}: refused naming another file: ${err.message}`);
      else if (repair && r.kind !== 'LMDB data file')
        failures.push(`${what}: repair did not open: ${err.message}`);
      continue;
    }
    try {
      checkReads(s, img, what, !repair && !torn);
    } catch (err) {
      failures.push((err as Error).message.split('\n')[0]!);
    } finally {
      await s.close().catch((err: unknown) => failures.push(`${what}: close failed: ${String(err)}`));
    }
  }
  return failures;
}

describe('damaged files on disk', () => {
  // A failed LMDB commit leaves promises of lmdb-js's own that nobody holds; the shard worker quiets
  // them the same way (src/storage/lmdb-env.ts).
  const quiet = (reason: unknown): void => {
    if (!quietCommitFailure(reason)) throw reason;
  };
  before(() => process.on('unhandledRejection', quiet));
  after(() => process.off('unhandledRejection', quiet));
  it('refuses with file and offset or opens, and never returns a value that was not written', async () => {
    const seed = testSeed();
    const root = tempDir(after);
    const img = await buildImage(root, seededRandom(seed));
    const rnd = seededRandom(seed + 1);
    const deadline = Date.now() + 60_000;
    const failures: string[] = [];
    let trials = 0;
    for (let pass = 0; pass < 3 && Date.now() < deadline; pass++)
      for (const r of regionsOf(img.dir))
        for (const mode of MODES)
          if (Date.now() < deadline && (r.kind !== 'LMDB data file' || mode === 'truncate'))
            failures.push(...(await runTrial(join(root, `t${trials++}`, STORE), { img, r, mode, rnd })));
    assert.deepEqual(failures, [], `seed ${seed} (DISTKV_SEED replays it), ${trials} trials`);
  });
});
