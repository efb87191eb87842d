/**
 * A seeded model test of stores sharing workers' commit logs across restarts (docs/commit-log-format.md):
 * three stores on two workers' logs take random puts and deletes (values from 0 bytes to over
 * 256 KiB, so batches outgrow segments), flushes, compactions, power cuts (torn or not), clean
 * stops in which a store's last flush fails, and restarts that place each store on a random worker
 * (the worker count changed, or a failover planned it elsewhere), opening the workers one after
 * the other so that one may flush and trim before another has taken its records. Writes are
 * acknowledged in `fsync` mode, so after every restart each store must hold exactly what a Map
 * holds. It prints its seed and the steps when it fails (DISTKV_SEED replays one).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CommitLog } from '../../src/storage/commit-log.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const STORES = 3;
const WORKERS = 2;
const KEYS = 8;
const STEPS = 60;
const OPTIONS = {
  memtableBytes: 8 * 1024,
  walSegmentBytes: 4096,
  maxRuns: 2,
  idleCompactMs: 1e9,
  retryMinMs: 1,
  retryMaxMs: 4,
};

/** Worker is one worker's log and the stores placed on it (`at[k]` is the index of `stores[k]`). */
interface Worker {
  log: CommitLog;
  stores: LsmStore[];
  at: number[];
}

/** valueOf makes a value of `size` bytes that names its write. */
function valueOf(tag: string, size: number): string {
  return size <= tag.length ? tag.slice(0, size) : tag + '.'.repeat(size - tag.length);
}

async function run(seed: number, root: string): Promise<void> {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const dirs = Array.from({ length: STORES }, (_, i) => join(root, 'node_1', `shard-${i}`));
  const logDir = (w: number): string => join(root, 'log', `w${w}`);
  const model = dirs.map(() => new Map<string, string>());
  const steps: string[] = [];
  let vfs = new FaultyVfs();
  let workers: Worker[] = [];

  const open = async (): Promise<void> => {
    const placement = dirs.map(() => pick(WORKERS));
    steps.push(`open ${placement.join(',')}`);
    workers = [];
    for (let w = 0; w < WORKERS; w++) {
      const at = placement.flatMap((p, i) => (p === w ? [i] : []));
      if (at.length === 0) continue;
      const g = await openTestGroup(
        logDir(w),
        at.map((i) => dirs[i]!),
        { ...OPTIONS, vfs },
      );
      workers.push({ ...g, at });
      // Writes and a flush on this worker before the next one opens: its log may trim then.
      if (random() < 0.5) {
        const k = pick(at.length);
        const i = at[k]!;
        for (let n = 0; n < 20; n++) {
          const key = `k${pick(KEYS)}`;
          const value = valueOf(`${i}:${key}:open${n}`, 300);
          await g.stores[k]!.put(Buffer.from(key), Buffer.from(value));
          model[i]!.set(key, value);
        }
        await g.stores[k]!.flush();
        steps.push(`20 puts to ${i} and a flush`);
      }
    }
  };
  const storeOf = (i: number): LsmStore => {
    for (const w of workers) {
      const k = w.at.indexOf(i);
      if (k >= 0) return w.stores[k]!;
    }
    throw new Error(`store ${i} is not open`);
  };
  const stop = async (): Promise<void> => {
    for (const w of workers) {
      for (const s of w.stores) await s.close().catch(() => undefined);
      await w.log.close().catch(() => undefined);
    }
    workers = [];
  };
  const check = (): void => {
    for (let i = 0; i < STORES; i++)
      for (let k = 0; k < KEYS; k++) {
        const got = storeOf(i).get(Buffer.from(`k${k}`));
        const want = model[i]!.get(`k${k}`);
        assert.equal(
          got === undefined ? undefined : Buffer.from(got).toString(),
          want,
          `store ${i} key k${k} (seed ${seed}; steps: ${steps.join('; ')})`,
        );
      }
  };

  try {
    await open();
    for (let step = 0; step < STEPS; step++) {
      const op = random();
      const i = pick(STORES);
      const key = `k${pick(KEYS)}`;
      if (op < 0.55) {
        const r = random();
        const size = r < 0.1 ? 0 : r < 0.7 ? pick(200) : r < 0.97 ? 1000 + pick(4000) : 300_000;
        const value = valueOf(`${i}:${key}:${step}`, size);
        steps.push(`put ${i} ${key} ${size}`);
        await storeOf(i).put(Buffer.from(key), Buffer.from(value));
        model[i]!.set(key, value);
      } else if (op < 0.7) {
        steps.push(`delete ${i} ${key}`);
        await storeOf(i).delete(Buffer.from(key));
        model[i]!.delete(key);
      } else if (op < 0.8) {
        steps.push(`flush ${i}`);
        await storeOf(i).flush();
      } else if (op < 0.9) {
        const tear = random() < 0.5;
        steps.push(`power cut${tear ? ' (torn)' : ''}`);
        vfs = vfs.crash(tear, random);
        await stop();
        await open();
        check();
      } else {
        // A clean stop in which one sync fails: a store's last flush, or the log's close.
        steps.push('stop, one sync failing');
        vfs.failSyncs(1);
        await stop();
        await open();
        check();
      }
    }
    check();
  } finally {
    await stop();
  }
}

describe('stores sharing commit logs, moved between workers across restarts (model)', () => {
  it('every store holds exactly its acknowledged writes after power cuts, failed flushes and moves', async () => {
    const seed = testSeed();
    const seeds = process.env.DISTKV_SEED === undefined ? [seed, seed + 1, seed + 2] : [seed];
    for (const s of seeds) await run(s, tempDir(after));
  });
});
