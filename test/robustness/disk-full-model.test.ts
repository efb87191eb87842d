/**
 * A full disk injected with FaultyVfs (ENOSPC on appends past a capacity, EIO on syncs) at a
 * seeded moment of a write load whose memtable flushes and log segment rolls happen every few
 * writes, so the fault lands in a log append, a segment roll or a run build. The claims
 * (docs/operations.md, "Capacity sizing"): a write is acknowledged or refused with DISK_FULL, never
 * anything else; while the disk is full every acknowledged write reads back; once space returns,
 * writes are accepted again and flushes catch up; after a power cut every acknowledged write is
 * there, with its value. Prints the seed on failure; replay with DISTKV_SEED.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm, type TestLsmOptions } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 50;
const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(3, '0')}`);

/** Model is what the store must hold: each key's last acknowledged value, and the values refused since. */
interface Model {
  acked: Map<number, string>;
  refusedSince: Map<number, string[]>;
  /** syncFaults: the round fails syncs (EIO), so a flush failing on one refuses with DISK_IO_ERROR (session 56). */
  syncFaults: boolean;
}

/** writeOne puts a random key and records the outcome; returns false when the write was refused. */
async function writeOne(s: LsmStore, m: Model, rnd: () => number, tag: string): Promise<boolean> {
  const i = Math.floor(rnd() * KEYS);
  const v = `${tag}-${Math.floor(rnd() * 1e9)}-`.padEnd(20 + Math.floor(rnd() * 400), 'v');
  try {
    await s.put(key(i), Buffer.from(v));
  } catch (err) {
    assert.ok(
      err instanceof DistkvError &&
        (err.code === 'DISK_FULL' || (m.syncFaults && err.code === 'DISK_IO_ERROR')),
      `refused with ${String(err)}`,
    );
    m.refusedSince.set(i, [...(m.refusedSince.get(i) ?? []), v]);
    return false;
  }
  m.acked.set(i, v);
  m.refusedSince.delete(i);
  return true;
}

/** checkAcked asserts every acknowledged write reads back; `refusedMayShow` lets a refused later value show instead. */
function checkAcked(s: LsmStore, m: Model, what: string, refusedMayShow: boolean): void {
  for (const [i, v] of m.acked) {
    const got = Buffer.from(s.get(key(i)) ?? []).toString();
    if (got === v) continue;
    assert.ok(
      refusedMayShow && (m.refusedSince.get(i) ?? []).includes(got),
      `${what}: ${key(i).toString()} reads ${got.slice(0, 30)}, acknowledged ${v.slice(0, 30)}`,
    );
  }
}

/** Failed says which writers a round's full disk made fail. */
interface Failed {
  flush: boolean;
  log: boolean;
}

async function oneRound(dir: string, seed: number, flushWhileFull: boolean): Promise<Failed> {
  const rnd = seededRandom(seed);
  const vfs = new FaultyVfs();
  const o: TestLsmOptions = {
    vfs,
    memtableBytes: 4096,
    maxRuns: 2,
    walSegmentBytes: 2048,
    retryMinMs: 5,
    retryMaxMs: 40,
  };
  const s = await openTestLsm(dir, o);
  const m: Model = { acked: new Map(), refusedSince: new Map(), syncFaults: false };
  for (let n = 0; n < 40 + Math.floor(rnd() * 120); n++) await writeOne(s, m, rnd, 'before');
  // The disk fills up a little later: a few writes still fit.
  vfs.setCapacity(vfs.usedBytes() + Math.floor(rnd() * 6000));
  m.syncFaults = rnd() < 0.3;
  if (m.syncFaults) vfs.failSyncs(1 + Math.floor(rnd() * 3));
  let refused = 0;
  for (let n = 0; n < 300 && refused < 20; n++) if (!(await writeOne(s, m, rnd, 'full'))) refused++;
  // Compaction into LMDB (not on this disk) and log trimming free space: fill what they freed.
  for (let n = 0; n < 50 && refused === 0; n++) {
    vfs.setCapacity(vfs.usedBytes());
    if (!(await writeOne(s, m, rnd, 'full'))) refused++;
  }
  assert.ok(refused > 0, 'the full disk refused writes');
  // A flush asked for while the disk is full fails and retries until space returns.
  const flushing = flushWhileFull ? s.flush() : undefined;
  for (let n = 0; n < 100 && flushing !== undefined && Number(s.stats().flushFailures) === 0; n++)
    await new Promise((r) => setTimeout(r, 10));
  const st = s.stats();
  const failed = { flush: Number(st.flushFailures) > 0, log: Number(st.walFailures) > 0 };
  checkAcked(s, m, `seed ${seed}, disk full`, false);
  vfs.setCapacity(Infinity);
  let resumed = false;
  const deadline = Date.now() + 10_000;
  while (!resumed && Date.now() < deadline) {
    resumed = await writeOne(s, m, rnd, 'after');
    if (!resumed) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(resumed, `seed ${seed}: writes resume once space returns`);
  await flushing;
  for (let n = 0; n < 60; n++)
    assert.ok(await writeOne(s, m, rnd, 'after'), `seed ${seed}: write after recovery`);
  checkAcked(s, m, `seed ${seed}, space back`, false);
  // Power cut: whatever was not synced is lost (or torn); every acknowledged write must survive.
  const rebooted = vfs.crash(true, rnd);
  await s.close().catch(() => undefined);
  const again = await openTestLsm(dir, { ...o, vfs: rebooted });
  try {
    checkAcked(again, m, `seed ${seed}, after a power cut`, true);
  } finally {
    await again.close();
  }
  return failed;
}

describe('disk full (FaultyVfs): flushes, segment rolls and log appends', () => {
  it('refuses with DISK_FULL, loses no acknowledged write, and resumes when space returns', async () => {
    const seed = testSeed();
    const root = tempDir(after);
    const seen = { flush: 0, log: 0 };
    for (let round = 0; round < 8; round++) {
      const dir = join(root, `r${round}`, 'node', 'shard-0');
      try {
        const failed = await oneRound(dir, seed + round, round % 2 === 1);
        seen.flush += failed.flush ? 1 : 0;
        seen.log += failed.log ? 1 : 0;
      } catch (err) {
        throw new Error(
          `seed ${seed + round} (DISTKV_SEED=${seed} replays the run): ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
  });
});
