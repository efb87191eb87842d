/**
 * A power cut at every point of the disk's history: two LSM stores sharing one commit log (as a
 * worker's do) on a FaultyVfs take a fixed sequence of puts (some with an expiry), overwrites,
 * deletes and expire records, with memtables, segments and retention small enough that flushes,
 * compactions, segment rolls, spare fills and retention trims all happen. Trial k cuts the power
 * just before the k-th change to the disk (a write, a sync, a rename, an unlink), for every k up to
 * the run's last one (see TRIALS); the unsynced bytes are lost, torn or kept page by page. The stores reopen on
 * what survived, and every key must hold its newest acknowledged version or a version in flight at
 * the cut: an acknowledged write lost (its value, its expiry or its version), a deleted or expired
 * key come back, or a value from another store is a failure (CrashModel). LMDB lives on the real file system and is not cut: a compaction
 * is durable there once it has synced applied_seq, which is what recovery relies on.
 * Without DISTKV_ROBUSTNESS=full, about TRIALS cut points spread over the run (a stride from a
 * seeded start). Prints the seed and the cut point on failure; replay with DISTKV_SEED.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs, type Tear } from '../../src/storage/faulty-vfs.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { CrashModel } from '../helpers/model.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
/** TRIALS is about how many cut points a run tries (each opens the stores twice). */
const TRIALS = 60;
const STORES = 2;
const WRITES = 90;
const KEYS = 12;
/** FAR is an expiry no trial reaches: the value stays live, its record keeps its expiry. */
const FAR = Date.now() + 86_400_000;

/** CrashAt is a FaultyVfs that loses power just before its `at`-th change (0: never) and counts its changes. */
class CrashAt extends FaultyVfs {
  changes = 0;
  rebooted: FaultyVfs | undefined;
  private readonly at: number;
  private readonly tear: Tear;
  private readonly random: () => number;

  constructor(at: number, tear: Tear, random: () => number) {
    super();
    this.at = at;
    this.tear = tear;
    this.random = random;
  }

  private change(): void {
    if (this.rebooted === undefined && ++this.changes === this.at)
      this.rebooted = this.crash(this.tear, this.random, 512);
  }

  override doWriteAt(path: string, data: Uint8Array, position: number): Promise<void> {
    this.change();
    return super.doWriteAt(path, data, position);
  }

  override doSync(path: string): Promise<void> {
    this.change();
    return super.doSync(path);
  }

  override rename(from: string, to: string): void {
    this.change();
    super.rename(from, to);
  }

  override unlink(path: string): void {
    this.change();
    super.unlink(path);
  }
}

/** Op is one write of the fixed sequence. */
interface Op {
  store: number;
  key: string;
  kind: 'put' | 'ttl' | 'delete' | 'expire';
  value: string;
}

function opsOf(random: () => number): Op[] {
  return Array.from({ length: WRITES }, (_, i) => {
    const r = random();
    const kind = r < 0.6 ? 'put' : r < 0.75 ? 'ttl' : r < 0.9 ? 'delete' : 'expire';
    const store = Math.floor(random() * STORES);
    return {
      store,
      key: `k${Math.floor(random() * KEYS)}`,
      kind,
      value: `s${store}-v${i}-${'x'.repeat(Math.floor(random() * 120))}`,
    };
  });
}

/** withTimeout settles with `p`, or with undefined after `ms` (a crashed store's leftovers may wait for good). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    p,
    new Promise<undefined>((r) => {
      setTimeout(() => {
        r(undefined);
      }, ms);
    }),
  ]);
}

interface Trial {
  changes: number;
  crashed: boolean;
}

/** runTrial runs the sequence on a disk that loses power before change `at` (0: never), then checks every store. */
async function runTrial(root: string, ops: readonly Op[], at: number, seed: number): Promise<Trial> {
  const random = seededRandom(seed * 7919 + at);
  const tearPick = random();
  const tear: Tear = tearPick < 0.35 ? 'pages' : tearPick < 0.7;
  const vfs = new CrashAt(at, tear, random);
  vfs.syncTurns = 1;
  const dir = join(root, `t${at}`);
  const logDir = join(dir, 'log', 'w0');
  const dirs = Array.from({ length: STORES }, (_, i) => join(dir, 'node', `shard-${i}`));
  const options = { memtableBytes: 1200, maxRuns: 2, walSegmentBytes: 2048, walRetentionBytes: 0 };
  const models = dirs.map(() => new CrashModel());
  let group: { log: CommitLog; stores: LsmStore[] } | undefined;
  try {
    group = await openTestGroup(logDir, dirs, { ...options, vfs });
  } catch (err) {
    // The cut came while the stores were created: nothing was acknowledged yet.
    if (vfs.rebooted === undefined) throw err;
  }
  if (group !== undefined) {
    const g = group;
    // Two writes at a time (one may be in flight at the cut while the other is acknowledged).
    for (let i = 0; i < ops.length && vfs.rebooted === undefined; i += 2) {
      const pair = ops.slice(i, i + 2);
      await Promise.all(
        pair.map(async (op) => {
          const model = models[op.store]!;
          const store = g.stores[op.store]!;
          const key = Buffer.from(op.key);
          // The model keeps a value with its expiry, so a lost or invented expiry shows.
          const value = op.kind === 'put' ? `${op.value}@0` : op.kind === 'ttl' ? `${op.value}@${FAR}` : null;
          model.issued(op.key, value);
          try {
            const w =
              op.kind === 'put'
                ? store.put(key, Buffer.from(op.value))
                : op.kind === 'ttl'
                  ? store.put(key, Buffer.from(op.value), FAR)
                  : op.kind === 'delete'
                    ? store.delete(key)
                    : store.expire(key);
            const done = await withTimeout(w, 2000);
            if (done !== undefined) model.ackedWrite(op.key, value, done.seq);
          } catch {
            // refused: the power went
          }
        }),
      );
    }
    // The flushes and compactions the writes set off (the power may go during them: a flush then
    // retries until the close).
    if (vfs.rebooted === undefined) await withTimeout(Promise.all(g.stores.map((s) => s.idle())), 5000);
    await withTimeout(
      Promise.all(g.stores.map((s) => s.close().catch(() => undefined))).then(() =>
        g.log.close().catch(() => undefined),
      ),
      5000,
    );
  }
  const trial = { changes: vfs.changes, crashed: vfs.rebooted !== undefined };
  const disk = vfs.rebooted ?? vfs.crash(false);
  const reopened = await openTestGroup(logDir, dirs, { ...options, vfs: disk });
  try {
    for (const [i, store] of reopened.stores.entries()) {
      const model = models[i]!;
      for (const key of model.keys()) {
        const v = store.read(Buffer.from(key));
        const got = v === undefined ? null : `${Buffer.from(v.value).toString()}@${v.expiresAtMs}`;
        const problem = model.check(key, got) ?? model.checkVersion(key, got, v?.seq ?? 0);
        assert.equal(
          problem,
          undefined,
          `cut before change ${at} (seed ${seed}), store ${i}: ${problem ?? ''}`,
        );
      }
      for (const e of store.scan(Buffer.from('k'), undefined, 1000)) {
        const text = Buffer.from(e.value).toString();
        assert.ok(
          text.startsWith(`s${i}-`),
          `cut before change ${at} (seed ${seed}): store ${i} holds ${text}`,
        );
        assert.equal(
          model.check(Buffer.from(e.key).toString(), `${text}@${e.expiresAtMs}`),
          undefined,
          `cut before change ${at} (seed ${seed}): scan of store ${i}`,
        );
      }
    }
  } finally {
    for (const s of reopened.stores) await s.close();
    await reopened.log.close();
  }
  return trial;
}

describe('power cut at every change to the disk', () => {
  it('keeps every acknowledged write, and brings back no delete or expiry, wherever the power goes', async (t) => {
    const seed = testSeed();
    const ops = opsOf(seededRandom(seed));
    const root = tempDir(after);
    const whole = await runTrial(root, ops, 0, seed);
    assert.ok(whole.changes > 50, `the run changes the disk (${whole.changes})`);
    // Every change with DISTKV_ROBUSTNESS=full; else about TRIALS of them, a stride from a seeded start.
    const stride = FULL ? 1 : Math.max(1, Math.floor(whole.changes / TRIALS));
    let crashed = 0;
    let trials = 0;
    for (let at = 1 + (seed % stride); at <= whole.changes; at += stride) {
      trials++;
      if ((await runTrial(root, ops, at, seed)).crashed) crashed++;
    }
    assert.ok(crashed >= trials / 2, `most trials were cut (${crashed} of ${trials})`);
    t.diagnostic(
      `seed ${seed}: ${whole.changes} changes to the disk, ${trials} cut points (stride ${stride}), ${crashed} cut`,
    );
  });
});
