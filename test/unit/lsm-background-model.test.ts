/**
 * A seeded model test of the LSM store while its background work runs: bursts of puts (some with
 * a TTL), deletes and expires are issued without waiting, and reads, scans and paged scans are
 * checked against a model of the acknowledged writes between bursts, while memtables flush and
 * runs compact into LMDB (two chunks of CHUNK_ENTRIES keys and more; a tiny idle window, so
 * compactions start between bursts and run across them). Now and then the store is closed and
 * reopened, or the disk loses power (FaultyVfs; LMDB stays on the real file system) with writes in
 * flight, a flush or a compaction half done: every acknowledged write must be there afterwards,
 * with its version (seq) and expiry; a write in flight at the cut may be there or not.
 * A key with a write in flight is skipped by the checks until the write is acknowledged.
 * The seed is fixed (DISTKV_SEED picks another, and replays a failure: it is in every message).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CHUNK_ENTRIES } from '../../src/storage/lsm-compaction.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { WriteResult } from '../../src/storage/store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { seededRandom } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const STEPS = 160;
const TICK = 10;
/** KEYS: more than two compaction chunks of small keys, and one 1024-byte key. */
const KEYS: readonly Buffer[] = [
  ...Array.from({ length: 2 * CHUNK_ENTRIES + 100 }, (_, i) => Buffer.from(`k${String(i).padStart(4, '0')}`)),
  Buffer.from('L'.repeat(1024)),
];
const PREFIXES = ['', 'k', 'k0', 'k05', 'k10', 'L', 'z'].map((p) => Buffer.from(p));
/** SIZES: mostly small values, with the empty value, a block, a slab quarter and more among them. */
const SIZES = [0, 1, 24, 24, 24, 24, 100, 100, 3000, 4096, 70_000, 300_000];

interface Version {
  value: Buffer | null;
  seq: number;
  expiresAtMs: number;
}

describe('LSM store with flushes and compactions in the background (seeded model)', () => {
  it('answers every read and scan as the model does, across reopens and power cuts mid-flush and mid-compaction', async (t) => {
    const seed = Number(process.env.DISTKV_SEED ?? 20261201);
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const dir = join(tempDir(after), 'shard-0');
    let now = 1_000_000;
    let vfs = new FaultyVfs();
    vfs.syncTurns = 1;
    const open = (): Promise<LsmStore> =>
      openTestLsm(dir, {
        vfs,
        clock: () => now,
        memtableBytes: 16 * 1024,
        maxRuns: 2,
        walSegmentBytes: 16 * 1024,
        idleCompactMs: 3,
        retryMinMs: 1,
        retryMaxMs: 5,
      });
    let store = await open();
    const acked = new Map<number, Version>();
    /** issued holds each key's writes not yet acknowledged. */
    const issued = new Map<number, Set<Version>>();
    const pending = new Set<Promise<void>>();
    const failures: string[] = [];
    let generation = 0;
    let counter = 0;
    const tally = { writes: 0, reads: 0, scans: 0, reopens: 0, cuts: 0, adopted: 0 };
    const where = (step: number): string => `step ${step} (seed ${seed})`;

    const issue = (i: number): void => {
      const key = KEYS[i]!;
      const r = random();
      let v: Version;
      let p: Promise<WriteResult>;
      if (r < 0.12) p = store.delete(key);
      else if (r < 0.17) p = store.expire(key);
      if (r < 0.17) v = { value: null, seq: 0, expiresAtMs: 0 };
      else {
        const value = Buffer.alloc(pick(SIZES), 0x61 + (counter % 26));
        value.write(String(counter++).slice(0, value.length));
        v = { value, seq: 0, expiresAtMs: r < 0.35 ? now + (1 + Math.floor(random() * 3)) * TICK : 0 };
        p = store.put(key, value, v.expiresAtMs);
      }
      let set = issued.get(i);
      if (set === undefined) issued.set(i, (set = new Set()));
      set.add(v);
      const gen = generation;
      const done = p!
        .then(
          ({ seq }) => {
            if (gen !== generation) return;
            set.delete(v);
            const cur = acked.get(i);
            if (cur === undefined || seq > cur.seq) acked.set(i, { ...v, seq });
          },
          (err: unknown) => {
            if (gen === generation) failures.push(`write of key ${i} failed: ${(err as Error).message}`);
          },
        )
        .finally(() => pending.delete(done));
      pending.add(done);
      tally.writes++;
    };

    const expected = (i: number): Version | undefined => {
      const a = acked.get(i);
      if (a === undefined || a.value === null) return undefined;
      return a.expiresAtMs === 0 || a.expiresAtMs > now ? a : undefined;
    };
    const settled = (i: number): boolean => (issued.get(i)?.size ?? 0) === 0;

    const checkKey = (i: number, what: string): void => {
      const got = store.read(KEYS[i]!);
      const want = expected(i);
      tally.reads++;
      if (want === undefined) {
        assert.equal(got, undefined, `${what}: key ${i} should be absent, has seq ${got?.seq}`);
        return;
      }
      assert.ok(got !== undefined, `${what}: key ${i} (seq ${want.seq}) is missing`);
      assert.equal(got.seq, want.seq, `${what}: key ${i} version`);
      assert.equal(got.expiresAtMs, want.expiresAtMs, `${what}: key ${i} expiry`);
      assert.ok(Buffer.from(got.value).equals(want.value!), `${what}: key ${i} value`);
    };

    const checkScan = (what: string): void => {
      const prefix = pick(PREFIXES);
      const after = random() < 0.5 ? undefined : pick(KEYS);
      const wanted = KEYS.map((k, i) => ({ k, i }))
        .filter(({ k, i }) => k.subarray(0, prefix.length).equals(prefix) && settled(i))
        .filter(({ k }) => after === undefined || Buffer.compare(k, after) > 0)
        .filter(({ i }) => expected(i) !== undefined)
        .sort((a, b) => Buffer.compare(a.k, b.k))
        .map(({ k, i }) => `${k.toString('latin1').slice(0, 8)}@${expected(i)!.seq}`);
      const index = new Map(KEYS.map((k, i) => [k.toString('latin1'), i]));
      const got = (es: { key: Uint8Array; seq: number }[]): string[] =>
        es
          .filter((e) => settled(index.get(Buffer.from(e.key).toString('latin1'))!))
          .map((e) => `${Buffer.from(e.key).toString('latin1').slice(0, 8)}@${e.seq}`);
      const whole = store.scan(prefix, after, KEYS.length + 1);
      assert.deepEqual(
        got(whole),
        wanted,
        `${what}: scan of '${prefix.toString().slice(0, 4)}' after ${after?.toString().slice(0, 8)}`,
      );
      // The same scan in pages of a few entries (no write applies between them: this loop is synchronous).
      const paged: typeof whole = [];
      const limit = 1 + Math.floor(random() * 9);
      for (let cursor = after; ;) {
        const page = store.scan(prefix, cursor, limit);
        paged.push(...page);
        if (page.length < limit) break;
        cursor = Buffer.from(page[page.length - 1]!.key);
      }
      assert.deepEqual(got(paged), got(whole), `${what}: paged scan (limit ${limit}) tiles the whole scan`);
      tally.scans++;
    };

    /** reopen closes the store (after a power cut: the crashed disk's handles fail) and opens it again. */
    const reopen = async (cut: boolean, step: number): Promise<void> => {
      if (cut) {
        const tear = random();
        const rebooted = vfs.crash(tear < 0.3 ? 'pages' : tear < 0.6, random, 512);
        generation++;
        await store.close().catch(() => undefined);
        await Promise.all(pending);
        vfs = rebooted;
        tally.cuts++;
      } else {
        await Promise.all(pending);
        await store.close();
        tally.reopens++;
      }
      store = await open();
      // A write in flight at the cut may have survived: adopt what the store holds if it is one of them.
      for (const [i, set] of issued) {
        if (set.size === 0) continue;
        const got = store.read(KEYS[i]!);
        const want = expected(i);
        const same = (v: Version | undefined): boolean =>
          got === undefined
            ? v === undefined || v.value === null || (v.expiresAtMs > 0 && v.expiresAtMs <= now)
            : v?.value != null && Buffer.from(got.value).equals(v.value) && got.expiresAtMs === v.expiresAtMs;
        if (same(want) && (got === undefined || got.seq === want!.seq)) continue;
        const match = [...set].find((v) => same(v));
        assert.ok(
          match !== undefined,
          `${where(step)}: key ${i} after the cut holds neither its acknowledged write nor one in flight`,
        );
        acked.set(i, {
          value: got === undefined ? null : Buffer.from(got.value),
          seq: got?.seq ?? 0,
          expiresAtMs: got?.expiresAtMs ?? 0,
        });
        tally.adopted++;
      }
      issued.clear();
      for (let i = 0; i < KEYS.length; i++)
        checkKey(i, `${where(step)}, after ${cut ? 'a power cut' : 'a reopen'}`);
      const newest = Math.max(0, ...[...acked.values()].map((v) => v.seq));
      assert.ok(
        store.lastSeq() >= newest,
        `${where(step)}: lastSeq ${store.lastSeq()} < acknowledged seq ${newest}`,
      );
    };

    try {
      for (let step = 0; step < STEPS; step++) {
        const burst = 1 + Math.floor(random() * 60);
        for (let n = 0; n < burst; n++) issue(Math.floor(random() * KEYS.length));
        const wait = random();
        if (wait < 0.4)
          for (let n = Math.floor(random() * 6); n > 0; n--) await new Promise((r) => setImmediate(r));
        else if (wait < 0.8) await new Promise((r) => setTimeout(r, 1 + Math.floor(random() * 8)));
        else await Promise.all(pending);
        assert.deepEqual(failures, [], where(step));
        for (let n = 0; n < 40; n++) {
          const i = Math.floor(random() * KEYS.length);
          if (settled(i)) checkKey(i, where(step));
        }
        checkScan(where(step));
        if (random() < 0.2) now += TICK;
        const r = random();
        if (r < 0.03) await reopen(false, step);
        else if (r < 0.07) await reopen(true, step);
      }
      await Promise.all(pending);
      assert.deepEqual(failures, [], 'end');
      await store.idle();
      for (let i = 0; i < KEYS.length; i++) checkKey(i, `end (seed ${seed})`);
      const st = store.stats() as unknown as Record<string, unknown>;
      t.diagnostic(
        `seed ${seed}: ${JSON.stringify(tally)}; flushes ${String(st.flushes)}, compactions ${String(st.compactions)}`,
      );
    } finally {
      await Promise.all(pending);
      await store.close().catch(() => undefined);
    }
  });
});
