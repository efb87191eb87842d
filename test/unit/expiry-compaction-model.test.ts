/**
 * The rule between compaction and the leader's expire records (src/storage/lsm-compaction.ts):
 * an expired value stays in the store, for the reaper to find and log its TYPE_EXPIRE record,
 * until that record (or any newer write of the key) supersedes it, through flushes, compactions
 * and reopens. Checked against a model on a seeded random stream of TTL puts, plain puts,
 * deletes, clock steps, the reaper's expires, flushes and restarts; the failure names its seed.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Newest is the model of one key: its newest write's seq and, for a value, its expiry (0 = none). */
interface Newest {
  seq: number;
  deleted: boolean;
  expiresAtMs: number;
}

const b = (s: string): Buffer => Buffer.from(s);

/** listExpiring pages through `Store.expiring` (3 keys a page, to cross page ends often). */
function listExpiring(s: LsmStore): string[] {
  const out: string[] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = s.expiring(after, 3);
    for (const e of page.entries) out.push(`${Buffer.from(e.key).toString()}@${e.seq}:${e.expiresAtMs}`);
    if (page.next === undefined) return out;
    after = page.next;
  }
}

describe('expired values and compaction (seeded model)', () => {
  it('keeps every expired value findable until its expire record is written, across flushes, compactions and reopens', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const dir = tempDir(after);
    const vfs = new FaultyVfs();
    const time = { now: 1_000_000 };
    const open = (): Promise<LsmStore> =>
      openTestLsm(dir, { vfs, clock: () => time.now, maxRuns: 1, durability: 'none', memtableBytes: 4096 });
    let s = await open();
    after(() => s.close());
    const model = new Map<string, Newest>();
    let expires = 0;
    let compactions = 0;
    const where = (step: number, what: string): string => `seed ${seed} step ${step}: ${what}`;

    const check = (step: number): void => {
      for (const [k, m] of model) {
        const raw = s.read(b(k), 0);
        if (m.deleted) assert.equal(raw, undefined, where(step, `${k} is deleted`));
        else {
          assert.equal(raw?.seq, m.seq, where(step, `${k} still holds seq ${m.seq}, expired or not`));
          assert.equal(raw.expiresAtMs, m.expiresAtMs, where(step, `${k}'s expiry`));
          const live = m.expiresAtMs === 0 || m.expiresAtMs > time.now;
          assert.equal(s.read(b(k)) !== undefined, live, where(step, `${k} is ${live ? '' : 'not '}visible`));
        }
      }
      const want = [...model]
        .filter(([, m]) => !m.deleted && m.expiresAtMs > 0)
        .map(([k, m]) => `${k}@${m.seq}:${m.expiresAtMs}`)
        .sort();
      assert.deepEqual(listExpiring(s), want, where(step, 'the expiring values listed'));
    };

    let seq = 0;
    for (let step = 0; step < 1500; step++) {
      const k = `k${String(Math.floor(rnd() * 40)).padStart(2, '0')}`;
      const r = rnd();
      if (r < 0.35) {
        const expiresAtMs = time.now + 1 + Math.floor(rnd() * 200);
        await s.put(b(k), Buffer.alloc(Math.floor(rnd() * 300), 'x'), expiresAtMs);
        model.set(k, { seq: ++seq, deleted: false, expiresAtMs });
      } else if (r < 0.45) {
        await s.put(b(k), b('plain'));
        model.set(k, { seq: ++seq, deleted: false, expiresAtMs: 0 });
      } else if (r < 0.5) {
        await s.delete(b(k));
        model.set(k, { seq: ++seq, deleted: true, expiresAtMs: 0 });
      } else if (r < 0.7) time.now += Math.floor(rnd() * 60);
      else if (r < 0.85) {
        // The leader's reaper: it expires a due key only while the key holds that very write.
        for (const [key, m] of model) {
          if (m.deleted || m.expiresAtMs === 0 || m.expiresAtMs > time.now || rnd() < 0.5) continue;
          assert.equal(s.read(b(key), 0)?.seq, m.seq, where(step, `the reaper finds ${key} to expire`));
          await s.expire(b(key));
          model.set(key, { seq: ++seq, deleted: true, expiresAtMs: 0 });
          expires++;
        }
      } else if (r < 0.97) {
        await s.flush();
        await s.idle();
      } else {
        // A reopened store counts from 0 again: keep what this one did.
        compactions += Number(s.stats().compactions ?? 0);
        await s.close();
        s = await open();
      }
      check(step);
    }
    compactions += Number(s.stats().compactions ?? 0);
    assert.ok(
      expires > 0 && compactions > 0,
      where(-1, `the stream expired ${expires} and compacted ${compactions} times`),
    );
  });
});
