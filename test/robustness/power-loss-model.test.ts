/**
 * Power loss, modelled: STORES LSM stores sharing one commit log (as a worker's do) on a FaultyVfs
 * take concurrent writes of every record kind (puts, puts with an expiry ahead or already past,
 * deletes, the leader's expire records); at a random moment the disk "loses power" (everything after
 * each file's last sync is dropped, the unsynced tail sometimes torn, or its writes over a
 * preallocated segment kept page by page out of order: FaultyVfs `'pages'`), the stores are reopened on
 * what survived, and every key of every store is checked against its model: every acknowledged
 * write present with its latest value, expiry and version (its seq), nothing invented, nothing
 * from another store; a put whose expiry has passed, a delete or an expire record, not come back. Runs and
 * compactions happen along the way (tiny memtables), so the shared log's segments are trimmed
 * while other stores still need some. Rounds chain on the same disk. After some cuts, garbage
 * (random bytes or zeros) is also appended to the newest log segment, as a disk that wrote part of
 * a request leaves it: recovery must cut it as a torn tail by itself.
 * DISTKV_ROBUSTNESS=full runs more rounds; DISTKV_SEED replays a failure.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { CrashModel } from '../helpers/model.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const ROUNDS = FULL ? 60 : 12;
const KEYS = 40;
const STORES = 3;
/** FAR is an expiry no run reaches (the value stays, its expiry must too); PAST one already passed. */
const FAR = Date.now() + 86_400_000;
const PAST = 1000;

/** text is a live value as the model keeps it: the value and its expiry, so a lost expiry shows. */
const text = (value: string, expiresAtMs: number): string => `${value}@${expiresAtMs}`;

/** appendGarbage appends 1..300 random (or zero) bytes to the newest log segment in `walDir`. */
function appendGarbage(vfs: FaultyVfs, walDir: string, random: () => number): boolean {
  const newest = vfs
    .list(walDir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .pop();
  if (newest === undefined) return false;
  const zeros = random() < 0.25;
  const bytes = Buffer.from(
    Array.from({ length: 1 + Math.floor(random() * 300) }, () => (zeros ? 0 : Math.floor(random() * 256))),
  );
  const f = vfs.file(join(walDir, newest));
  f.data = Buffer.concat([f.data, bytes]);
  f.synced = f.data;
  return true;
}

describe('power loss (model)', () => {
  it(`keeps every acknowledged write through ${ROUNDS} power cuts at random moments, with garbage tails`, async (t) => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const dir = tempDir(after);
    let vfs = new FaultyVfs();
    // Syncs take a turn: a power cut finds batches written and not yet synced (kept by crash()).
    vfs.syncTurns = 1;
    const logDir = join(dir, 'log', 'w0');
    const dirs = Array.from({ length: STORES }, (_, i) => join(dir, 'node', `shard-${i}`));
    const open = (v: FaultyVfs): Promise<{ log: CommitLog; stores: LsmStore[] }> =>
      openTestGroup(logDir, dirs, { vfs: v, memtableBytes: 3000, maxRuns: 2, walSegmentBytes: 2048 });
    let group = await open(vfs);
    const models = dirs.map(() => new CrashModel());
    const close = async (): Promise<void> => {
      await Promise.all(group.stores.map((s) => s.close().catch(() => undefined)));
      await group.log.close().catch(() => undefined);
    };
    let counter = 0;
    let totalAcked = 0;
    let tails = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const writers = 1 + Math.floor(random() * 16);
        const turns = 1 + Math.floor(random() * 60);
        let stop = false;
        const loops = Array.from({ length: writers }, async () => {
          while (!stop) {
            const i = Math.floor(random() * STORES);
            const store = group.stores[i]!;
            const model = models[i]!;
            // Every store has the same key names: a record applied to the wrong store shows.
            const key = `k${Math.floor(random() * KEYS)}`;
            const r = random();
            const kind =
              r < 0.1 ? 'delete' : r < 0.15 ? 'expire' : r < 0.3 ? 'ttl' : r < 0.35 ? 'past' : 'put';
            const raw = `s${i}-v${counter++}-${'x'.repeat(Math.floor(random() * 60))}`;
            const exp = kind === 'ttl' ? FAR + counter : kind === 'past' ? PAST : 0;
            // A put already expired is a missing key, as a delete is.
            const value = kind === 'put' || kind === 'ttl' ? text(raw, exp) : null;
            model.issued(key, value);
            try {
              const k = Buffer.from(key);
              const { seq } =
                kind === 'delete'
                  ? await store.delete(k)
                  : kind === 'expire'
                    ? await store.expire(k)
                    : await store.put(k, Buffer.from(raw), exp);
              model.ackedWrite(key, value, seq);
              totalAcked++;
            } catch {
              return;
            }
          }
        });
        for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
        stop = true;
        // Torn as a prefix, or (writes over a preallocated segment) kept sector by sector out of
        // order: 512-byte pages, so that the 2 KiB segments hold several.
        const tear = random();
        const rebooted = vfs.crash(tear < 0.35 ? 'pages' : tear < 0.7, random, 512);
        await Promise.all(loops);
        await close();
        vfs = rebooted;
        if (random() < 0.4 && appendGarbage(vfs, logDir, random)) tails++;
        group = await open(vfs);
        for (const [i, store] of group.stores.entries()) {
          const model = models[i]!;
          const observed = new Map<string, string | null>();
          for (const key of model.keys()) {
            const v = store.read(Buffer.from(key));
            const got = v === undefined ? null : text(Buffer.from(v.value).toString(), v.expiresAtMs);
            const problem = model.check(key, got) ?? model.checkVersion(key, got, v?.seq ?? 0);
            assert.equal(problem, undefined, `round ${round}, store ${i} (seed ${seed}): ${problem ?? ''}`);
            observed.set(key, got);
          }
          const scanned = new Map(
            store
              .scan(Buffer.from('k'), undefined, 1000)
              .map((e) => [
                Buffer.from(e.key).toString(),
                text(Buffer.from(e.value).toString(), e.expiresAtMs),
              ]),
          );
          for (const [k, v] of scanned)
            assert.ok(v.startsWith(`s${i}-`), `round ${round} (seed ${seed}): store ${i} holds ${k}=${v}`);
          for (const [k, v] of observed)
            assert.equal(
              scanned.get(k) ?? null,
              v,
              `round ${round}, store ${i} (seed ${seed}): scan and get agree on ${k}`,
            );
          model.settle(observed);
        }
      }
      assert.ok(totalAcked > ROUNDS, `writes were acknowledged (${totalAcked})`);
      t.diagnostic(
        `seed ${seed}: ${ROUNDS} power cuts, ${STORES} stores sharing one log, ${totalAcked} acknowledged writes, 0 lost, ${tails} garbage tails cut`,
      );
    } finally {
      await close();
    }
  });
});
