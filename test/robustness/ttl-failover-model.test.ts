/**
 * A seeded model test of TTLs and compare-and-set through planned failovers (docs/api.md, "TTL",
 * "Versions"; docs/failover.md, "Planned failover"; docs/watch.md): one shard led by A with
 * replicas B and C, one client writing a handful of keys one operation at a time, so the model is
 * exact but for the instant a TTL runs out:
 *
 * - a key is a value, a version and an expiry window [lo, hi] (exact for `expiresAtMs`; for
 *   `ttlMs` between the put's send and its answer plus the TTL; +Infinity without a TTL);
 * - a read, an `If-Match` with the model's version or an `If-None-Match: *` must answer as the
 *   model says whenever the request's send..answer span lies wholly before lo or after hi;
 * - an `If-Match` with a version the key had before must always be refused (412);
 * - every few operations the leader moves (`distkv failover --to`) to a random other member.
 *
 * At the end (once every TTL ran out): every member's store equals the model, every member gives
 * each key the leader's version, and a watch opened before the first write (resuming across the
 * failovers) applied to a map equals the store, its versions only grow, and it never yields an
 * `expire` or `delete` of a key its own map does not hold (one expiry seen twice).
 * A failure names its seed: `DISTKV_SEED=<seed> node --test dist/test/robustness/ttl-failover-model.test.js`.
 * Without DISTKV_ROBUSTNESS=full (the CI's short robustness tier) the forced case alone runs, with
 * 120 operations; `npm run test:robustness` runs both cases with 240.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WatchChange } from '../../src/client/watch.js';
import { PreconditionFailedError } from '../../src/errors.js';
import { parseVersion } from '../../src/routing/version.js';
import { dumpAt, failoverTo, waitFor } from '../helpers/failover-model.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { runCli } from '../helpers/server-process.js';
import { Trio } from '../helpers/trio.js';

const PREFIX = 'tm:';
const KEYS = 6;
/** OPS bounds the run; FAILOVER_EVERY is how many operations go between two failovers. */
const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const OPS = FULL ? 240 : 120;
const FAILOVER_EVERY = 40;
/** RUN_MS bounds the operations' time (the run stops early past it, checking what it did). */
const RUN_MS = 60_000;

/** Entry is the model's key: value, version and expiry window. */
interface Entry {
  value: string;
  version: string;
  lo: number;
  hi: number;
  /** older are the versions the key had before (a CAS with one must fail). */
  older: string[];
}

/** known answers whether the key exists at every instant of [s, e]: true, false, or undefined (it may have expired in between). */
function known(e: Entry | undefined, s: number, end: number): boolean | undefined {
  if (e === undefined) return false;
  if (end < e.lo - 2) return true;
  if (s > e.hi + 2) return false;
  return undefined;
}

/** Move changes the shard's leader from `leader` and resolves with the new one. */
type Move = (t: Trio, leader: string, rand: () => number) => Promise<string>;

/** planned moves the leader with `distkv failover --to` a random other member. */
const planned: Move = async (t, leader, rand) => {
  const to = t.members.filter((m) => m !== leader)[Math.floor(rand() * 2)]!;
  await failoverTo(to);
  return to;
};

/** forced kills the leader (SIGKILL), runs `distkv failover --force` and restarts the old leader. */
const forced: Move = async (t, leader) => {
  await t.cluster.kill(leader);
  const other = t.members.find((m) => m !== leader)!;
  const args = ['failover', '--url', `http://${other}`, '--shard', 'shard-0', '--force', '--json'];
  const res = await runCli([...args, '--timeout-ms', '20000']);
  assert.equal(res.code, 0, `forced failover: ${res.stderr}`);
  const to = (JSON.parse(res.stdout) as { to: string }).to;
  await t.cluster.startNode(leader);
  await t.cluster.following();
  return to;
};

describe('TTLs and compare-and-set through failovers, against a model', () => {
  const seed = testSeed();
  if (FULL)
    it(
      `keeps expiries, versions and watch events consistent through planned failovers (seed ${seed})`,
      { timeout: 240_000 },
      () => run(seed, planned, {}),
    );
  it(
    `keeps them through forced failovers past a kill -9, writes with w=1 (seed ${seed})`,
    { timeout: 240_000 },
    () => run(seed, forced, { w: 1, timeoutMs: 5000 }),
  );
});

/** run is one seeded run: `move` changes the leader every FAILOVER_EVERY operations; `wc` is every write's concern. */
async function run(seed: number, move: Move, wc: { w?: number; timeoutMs?: number }): Promise<void> {
  const rand = seededRandom(seed);
  const t = await Trio.start('ttl-failover-model');
  after(() => t.stop());
  await t.cluster.following();
  const model = new Map<string, Entry>();
  const gone = new Map<string, string[]>(); // versions of keys now absent
  const events: WatchChange[] = [];
  const stopper = new AbortController();
  const watched = (async () => {
    for await (const ev of t.client.watch(PREFIX, { signal: stopper.signal })) events.push(ev);
  })().catch((err: unknown) => {
    if (!stopper.signal.aborted) throw err;
  });
  await sleep(500); // the watch's stream is open before the first write
  let leader = t.A;
  const log: string[] = [];
  const trace = process.env.TTL_TRACE === '1';
  const note = (line: string): void => {
    log.push(line);
    if (trace) process.stderr.write(`${Date.now()} ${line}\n`);
  };
  const fail = (msg: string): never => {
    assert.fail(`seed ${seed}: ${msg}\nlast ops:\n${log.slice(-25).join('\n')}`);
  };
  const until = performance.now() + RUN_MS;
  for (let i = 0; i < OPS && performance.now() < until; i++) {
    if (i > 0 && i % FAILOVER_EVERY === 0) {
      const to = await move(t, leader, rand);
      note(`failover ${leader} -> ${to}`);
      leader = to;
    }
    const key = `${PREFIX}${Math.floor(rand() * KEYS)}`;
    const cur = model.get(key);
    const u = rand();
    const value = `v${i}`;
    const s = Date.now();
    if (u < 0.3) {
      // put: plain, with expires_at_ms, with ttl_ms, or a far TTL
      const w = rand();
      const delay = 150 + Math.floor(rand() * 2500);
      const opts =
        w < 0.25
          ? {}
          : w < 0.6
            ? { expiresAtMs: s + delay }
            : w < 0.9
              ? { ttlMs: delay }
              : { ttlMs: 600_000 };
      const r = await t.client.putResult(key, value, { ...opts, ...wc });
      const e = Date.now();
      note(`${i} put ${key} ${JSON.stringify(opts)} -> ${r.version}${r.deleted ? ' deleted' : ''}`);
      const older = [...(cur?.older ?? gone.get(key) ?? []), ...(cur === undefined ? [] : [cur.version])];
      if (r.deleted) {
        model.delete(key);
        gone.set(key, [...older, r.version]);
      } else {
        const [lo, hi] =
          'expiresAtMs' in opts
            ? [opts.expiresAtMs, opts.expiresAtMs]
            : 'ttlMs' in opts
              ? [s + opts.ttlMs, e + opts.ttlMs]
              : [Infinity, Infinity];
        model.set(key, { value, version: r.version, lo, hi, older });
      }
    } else if (u < 0.5) {
      // CAS from the model's version (or a stale one), possibly with a TTL
      const stale = cur?.older.at(-1) ?? gone.get(key)?.at(-1);
      const useStale = stale !== undefined && rand() < 0.3;
      const ifMatch = useStale ? stale : (cur?.version ?? stale);
      if (ifMatch === undefined) continue;
      const ttl = rand() < 0.5 ? { ttlMs: 150 + Math.floor(rand() * 2000) } : {};
      let version: string | undefined;
      try {
        version = (await t.client.putResult(key, value, { ifMatch, ...ttl, ...wc })).version;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const e = Date.now();
      note(
        `${i} cas ${key} if-match ${ifMatch}${useStale ? ' (stale)' : ''} ${JSON.stringify(ttl)} -> ${version ?? '412'}`,
      );
      const live = useStale ? false : known(cur, s, e);
      if (live === true && version === undefined)
        fail(`CAS of live ${key} from its version ${ifMatch} refused`);
      if (live === false && version !== undefined)
        fail(`CAS of ${key} from ${ifMatch} (stale or expired) succeeded as ${version}`);
      if (version !== undefined) {
        const hiLo = 'ttlMs' in ttl ? [s + ttl.ttlMs, e + ttl.ttlMs] : [Infinity, Infinity];
        model.set(key, {
          value,
          version,
          lo: hiLo[0]!,
          hi: hiLo[1]!,
          older: [...(cur?.older ?? []), ifMatch],
        });
      } else if (!useStale && cur !== undefined) {
        model.delete(key);
        gone.set(key, [...cur.older, cur.version]);
      }
    } else if (u < 0.65) {
      // create only
      const ttlMs = 150 + Math.floor(rand() * 2000);
      let version: string | undefined;
      try {
        version = (await t.client.putResult(key, value, { ifNoneMatch: true, ttlMs, ...wc })).version;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      const e = Date.now();
      note(`${i} create ${key} -> ${version ?? '412'}`);
      const live = known(cur, s, e);
      if (live === false && version === undefined) fail(`If-None-Match: * on absent/expired ${key} refused`);
      if (live === true && version !== undefined) fail(`If-None-Match: * on live ${key} succeeded`);
      if (version !== undefined) {
        const prior = [...(cur?.older ?? gone.get(key) ?? []), ...(cur === undefined ? [] : [cur.version])];
        model.set(key, { value, version, lo: s + ttlMs, hi: e + ttlMs, older: prior });
      }
    } else if (u < 0.75) {
      await t.client.delete(key, wc);
      note(`${i} delete ${key}`);
      if (cur !== undefined) gone.set(key, [...cur.older, cur.version]);
      model.delete(key);
    } else if (u < 0.95) {
      const got = await t.client.getVersioned(key);
      const e = Date.now();
      note(`${i} get ${key} -> ${got === undefined ? 'none' : `${got.value.toString()}@${got.version}`}`);
      const live = known(cur, s, e);
      if (live === true && got?.version !== cur?.version)
        fail(`get ${key}: ${got?.version ?? 'missing'}, model ${cur?.version ?? ''}`);
      if (live === false && got !== undefined) fail(`get ${key}: ${got.version} resurrected (model: absent)`);
    } else {
      await sleep(Math.floor(rand() * 400));
    }
  }
  // Let every TTL run out, then compare every member with the model.
  const soon = Date.now() + 60_000; // the 10-minute TTLs stay; every shorter one runs out first
  const lastHi = Math.max(0, ...[...model.values()].map((e) => (e.hi < soon ? e.hi : 0)));
  await sleep(Math.max(0, lastHi - Date.now()) + 1500);
  const want = new Map([...model].filter(([, e]) => e.hi >= soon).map(([k, e]) => [k, e.value]));
  for (const m of t.members) {
    note(`end: comparing ${m}`);
    await waitFor(
      `${m} to hold the model`,
      async () => {
        const got = new Map([...(await dumpAt(m))].filter(([k]) => k.startsWith(PREFIX)));
        return JSON.stringify([...got].sort()) === JSON.stringify([...want].sort());
      },
      15_000,
    ).catch(async () =>
      fail(
        `${m} holds ${JSON.stringify([...(await dumpAt(m))].sort())}, model ${JSON.stringify([...want].sort())}`,
      ),
    );
    for (const [k] of want) {
      const r = await fetch(`http://${m}/kv/${encodeURIComponent(k)}`, { redirect: 'manual' });
      await r.arrayBuffer();
      if (r.status === 200)
        assert.equal(
          r.headers.get('etag'),
          `"${model.get(k)!.version}"`,
          `seed ${seed}: ${m}'s version of ${k}`,
        );
    }
  }
  note('end: stopping the watch');
  await sleep(2000);
  stopper.abort();
  await watched;
  // The watch applied to a map: versions grow, no expire/delete of a key the map lacks, ends at the model.
  const view = new Map<string, string>();
  let last: { epoch: number; seq: number } | undefined;
  const problems: string[] = [];
  for (const ev of events) {
    if (ev.type === 'snapshot-begin') {
      view.clear();
      last = undefined;
      continue;
    }
    if (ev.type !== 'put' && ev.type !== 'delete' && ev.type !== 'expire') continue;
    const key = ev.key ?? '';
    if (ev.snapshot === true) {
      view.set(key, ev.value?.toString() ?? '');
      continue;
    }
    const v = parseVersion(ev.version ?? '');
    if (v === undefined) problems.push(`${ev.type} ${key} without a version`);
    else {
      if (last !== undefined && (v.seq <= last.seq || v.epoch < last.epoch))
        problems.push(`${ev.type} ${key} ${ev.version ?? ''} after ${last.epoch}.${last.seq}`);
      last = v;
    }
    if (ev.type === 'put') view.set(key, ev.value?.toString() ?? '');
    else {
      if (ev.type === 'expire' && !view.has(key))
        problems.push(`expire of ${key} (${ev.version ?? ''}) it does not hold: an expiry seen twice?`);
      view.delete(key);
    }
  }
  assert.deepEqual(problems, [], `seed ${seed}: watch problems`);
  assert.deepEqual([...view].sort(), [...want].sort(), `seed ${seed}: the watch's map vs the model`);
}
