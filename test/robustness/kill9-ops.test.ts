/**
 * kill -9 under every kind of write: a `distkv serve` child takes, over HTTP and RESP at once,
 * plain and conditional PUTs and DELETEs (If-Match / If-None-Match), PUTs with `ttl_ms`, batches
 * with conditions over two keys, INCRBY, SET [NX|XX] GET [PXAT t|KEEPTTL], PEXPIREAT
 * [NX|XX|GT|LT] (to a time ahead or past), PERSIST and GETEX [PXAT t|PERSIST], and is killed with
 * SIGKILL at a random moment. Each writer owns its keys (one hash tag, so one shard) and sends one
 * operation at a time, so the model knows each key's state when an operation is sent: every
 * answer must be the model's (a conditional write's outcome is the one the client was told), and
 * after each restart every key must hold its acknowledged state (value, expiry and, when an answer
 * told it, version) or the state its one operation in flight at the kill would have left, a batch
 * wholly or not at all; and a replica of every shard, in a process of its own that is never killed,
 * must serve exactly what the leader holds once it caught up. Expiries are an hour ahead or more, so none runs out during the test; one
 * already past deletes the key. The SHARDS stores share one worker's commit log; tiny memtables
 * make flushes and compactions happen. npm test runs 3 rounds; DISTKV_ROBUSTNESS=full 12.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { RespConn } from '../helpers/resp-conn.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const ROUNDS = FULL ? 12 : 3;
const WRITERS = 8;
const KEYS_PER_WRITER = 3;
const SHARDS = 2;
/** BASE is a PXAT time far ahead; times are BASE + k s, so GT and LT compare them exactly. */
const BASE = Date.now() + 86_400_000;
/** TTL_MS is the least `ttl_ms` a PUT gives (its expiry is known to within the request's time). */
const TTL_MS = 3_600_000;

/** KeyState is a key's value (undefined = missing), expiry bounds (0, 0 = none) and version (ETag) when known. */
interface KeyState {
  value: string | undefined;
  lo: number;
  hi: number;
  ver?: string | undefined;
}

const MISSING: KeyState = { value: undefined, lo: 0, hi: 0 };

/** same tells whether an observed state (exact expiry in lo) is `s`. */
function same(observed: KeyState, s: KeyState): boolean {
  if (observed.value !== s.value) return false;
  return observed.value === undefined || (observed.lo >= s.lo && observed.lo <= s.hi);
}

/** expiryHolds is Redis 7's EXPIRE NX/XX/GT/LT on a key expiring in [lo, hi] (0 = never) for a new time `t` outside it. */
function expiryHolds(cond: string, s: KeyState, t: number): boolean {
  const none = s.hi === 0;
  if (cond === 'NX') return none;
  if (cond === 'XX') return !none;
  if (cond === 'GT') return !none && t > s.hi;
  if (cond === 'LT') return none || t < s.lo;
  return true;
}

/** bulk is a RESP bulk string reply (nil for undefined). */
const bulk = (v: string | undefined): string => (v === undefined ? '$-1\r\n' : `$${v.length}\r\n${v}\r\n`);

/** Op is one operation: sends it and checks its answer; `next` is each key's state if it applies. */
interface Op {
  keys: string[];
  next: KeyState[];
  /** run sends the operation; resolves with the states to acknowledge (per key), or throws when the connection went. */
  run: () => Promise<KeyState[]>;
}

describe('SIGKILL under every kind of write (model)', () => {
  it(`keeps every acknowledged write's value, expiry and version across ${ROUNDS} kill -9 restarts`, async (t) => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const dir = tempDir(after);
    const address = await freeNodeAddress();
    let replicaAddress = await freeNodeAddress();
    while (replicaAddress === address) replicaAddress = await freeNodeAddress();
    const base = `http://${address}`;
    const config = writeConfig(
      dir,
      Array.from({ length: SHARDS }, () => ({ address, replicas: [replicaAddress] })),
      '[storage]\nmemtable_bytes = 65536\nmax_runs = 2\nwal_segment_bytes = 65536\n',
    );
    const nodeArgs = (node: string, data: string): string[] => [
      '--config',
      config,
      '--node',
      node,
      '--data-dir',
      join(dir, data),
      '--workers',
      '1',
    ];
    const args = nodeArgs(address, 'data');
    // The replicas of every shard: another process, which follows the leader through its kills.
    const replica = await ServerProcess.start(
      nodeArgs(replicaAddress, 'data-replica'),
      `http://${replicaAddress}/healthz`,
      {
        DISTKV_LOG_LEVEL: 'warn',
      },
    );
    after(() => replica.stop());
    const keysOf = (w: number): string[] => Array.from({ length: KEYS_PER_WRITER }, (_, i) => `{w${w}}k${i}`);
    const acked = new Map<string, KeyState>();
    for (let w = 0; w < WRITERS; w++) for (const k of keysOf(w)) acked.set(k, MISSING);
    /** inFlight: each writer's operation in flight at the kill (its keys and their states if it applied). */
    const inFlight: { keys: string[]; next: KeyState[]; what: string }[] = [];
    let counter = 0;
    let done = 0;
    let keptInFlight = 0;
    let replicaKeys = 0;

    const opFor = (w: number, rc: RespConn): { op: Op; what: string } => {
      const keys = keysOf(w);
      const key = pick(keys);
      const s = acked.get(key)!;
      const has = s.value !== undefined;
      const v = String(1000 + (counter++ % 9000));
      const at = BASE + Math.floor(random() * 30) * 1000;
      const url = `${base}/kv/${encodeURIComponent(key)}`;
      const one = (next: KeyState, run: () => Promise<KeyState>): Op => ({
        keys: [key],
        next: [next],
        run: async () => [await run()],
      });
      const resp = async (cmd: string[]): Promise<string> => (await rc.send([cmd], 10000))[0]!;
      const r = random();
      if (r < 0.1) {
        const next = { value: v, lo: 0, hi: 0 };
        return {
          what: `PUT ${key}`,
          op: one(next, async () => {
            const res = await fetch(url, { method: 'PUT', body: v });
            await res.arrayBuffer();
            assert.equal(res.status, 204, `PUT ${key}`);
            return { ...next, ver: res.headers.get('etag') ?? undefined };
          }),
        };
      }
      if (r < 0.2) {
        const ttl = TTL_MS + Math.floor(random() * TTL_MS);
        const sent = Date.now();
        // In flight at the kill: it got its expiry some time before the restart.
        const next = { value: v, lo: sent + ttl, hi: sent + ttl + 120_000 };
        return {
          what: `PUT ${key}?ttl_ms=${ttl}`,
          op: one(next, async () => {
            const res = await fetch(`${url}?ttl_ms=${ttl}`, { method: 'PUT', body: v });
            await res.arrayBuffer();
            assert.equal(res.status, 204, `PUT ${key} with ttl_ms`);
            return { ...next, hi: Date.now() + ttl, ver: res.headers.get('etag') ?? undefined };
          }),
        };
      }
      if (r < 0.32) {
        // If-Match (the version, a wrong one, or *), If-None-Match: *; on a PUT or a DELETE.
        const del = random() < 0.3;
        const kind = del ? pick(['version', 'wrong', '*']) : pick(['version', 'wrong', '*', 'none']);
        const useVer = kind === 'version' && s.ver !== undefined;
        const header =
          kind === 'none'
            ? { 'if-none-match': '*' }
            : { 'if-match': useVer ? s.ver! : kind === '*' ? '*' : `"0.${900000 + counter}"` };
        const holds = kind === 'none' ? !has : has && (useVer || kind === '*');
        const next = !holds ? s : del ? MISSING : { value: v, lo: 0, hi: 0 };
        return {
          what: `${del ? 'DELETE' : 'PUT'} ${key} ${JSON.stringify(header)} on ${JSON.stringify(s)}`,
          op: one(next, async () => {
            const res = await fetch(url, {
              method: del ? 'DELETE' : 'PUT',
              headers: header,
              ...(del ? {} : { body: v }),
            });
            await res.arrayBuffer();
            assert.equal(
              res.status,
              holds ? 204 : 412,
              `conditional ${del ? 'DELETE' : 'PUT'} ${key} ${JSON.stringify(header)} on ${JSON.stringify(s)}`,
            );
            return holds && !del ? { ...next, ver: res.headers.get('etag') ?? undefined } : next;
          }),
        };
      }
      if (r < 0.38) {
        return {
          what: `DELETE ${key}`,
          op: one(MISSING, async () => {
            const res = await fetch(url, { method: 'DELETE' });
            await res.arrayBuffer();
            assert.equal(res.status, 204, `DELETE ${key}`);
            assert.equal(res.headers.get('x-distkv-existed'), has ? '1' : '0', `DELETE ${key}: existed`);
            return MISSING;
          }),
        };
      }
      if (r < 0.5) {
        // A batch with conditions over two keys of the writer (one shard): all or nothing.
        const two = [key, pick(keys.filter((k) => k !== key))];
        const held: boolean[] = [];
        const ops = two.map((k) => {
          const st = acked.get(k)!;
          const c = st.ver !== undefined && st.value !== undefined && random() < 0.7 ? 'match' : 'none';
          const wrong = random() < 0.2;
          held.push(c === 'match' ? !wrong : st.value === undefined);
          const cond =
            c === 'match'
              ? { if_match: wrong ? `"0.${900000 + counter}"` : st.ver! }
              : { if_none_match: '*' };
          if (c === 'match' && random() < 0.3)
            return { op: { op: 'delete', key: k, ...cond }, next: MISSING };
          const value = `b${counter++}`;
          const ttl = random() < 0.3 ? TTL_MS : 0;
          const sent = Date.now();
          return {
            op: { op: 'set', key: k, value, ...cond, ...(ttl === 0 ? {} : { ttl_ms: ttl }) },
            next: ttl === 0 ? { value, lo: 0, hi: 0 } : { value, lo: sent + ttl, hi: sent + ttl + 120_000 },
          };
        });
        const holdsAll = held.every(Boolean);
        const next = holdsAll ? ops.map((o) => o.next) : two.map((k) => acked.get(k)!);
        return {
          what: `batch ${JSON.stringify(ops.map((o) => o.op))} on ${JSON.stringify(two.map((k) => acked.get(k)))}`,
          op: {
            keys: two,
            next,
            run: async () => {
              const res = await fetch(`${base}/kv/_batch`, {
                method: 'POST',
                body: JSON.stringify({ ops: ops.map((o) => o.op) }),
              });
              const body = (await res.json()) as { results: { ok: boolean }[] };
              assert.equal(res.status, 200, `batch: ${JSON.stringify(body)}`);
              assert.deepEqual(
                body.results.map((x) => x.ok),
                [holdsAll, holdsAll],
                `batch ${JSON.stringify(ops.map((o) => o.op))} on ${JSON.stringify(two.map((k) => acked.get(k)))}: ${JSON.stringify(body)}`,
              );
              // The batch's answer tells no versions; expiries to within the request's time.
              if (!holdsAll) return next;
              const now = Date.now();
              return next.map((n) => ({ ...n, hi: n.hi === 0 ? 0 : now + TTL_MS, ver: undefined }));
            },
          },
        };
      }
      if (r < 0.6) {
        const numeric = s.value === undefined || /^-?\d+$/.test(s.value);
        const sum = String(Number(s.value ?? '0') + 5);
        const next = numeric ? { value: sum, lo: s.lo, hi: s.hi } : s;
        return {
          what: `INCRBY ${key} 5 on ${JSON.stringify(s)}`,
          op: one(next, async () => {
            const reply = await resp(['INCRBY', key, '5']);
            if (numeric) assert.equal(reply, `:${sum}\r\n`, `INCRBY ${key} on ${JSON.stringify(s)}`);
            else assert.ok(reply.startsWith('-'), `INCRBY ${key} of ${s.value}: ${reply}`);
            return next;
          }),
        };
      }
      if (r < 0.75) {
        const cond = pick(['', 'NX', 'XX']);
        const ttl = pick(['', 'PXAT', 'KEEPTTL']);
        const applies = cond === '' || (cond === 'NX') !== has;
        const next = !applies
          ? s
          : ttl === 'PXAT'
            ? { value: v, lo: at, hi: at }
            : ttl === 'KEEPTTL' && has
              ? { value: v, lo: s.lo, hi: s.hi }
              : { value: v, lo: 0, hi: 0 };
        const cmd = [
          'SET',
          key,
          v,
          ...(cond === '' ? [] : [cond]),
          'GET',
          ...(ttl === 'PXAT' ? ['PXAT', String(at)] : ttl === '' ? [] : [ttl]),
        ];
        return {
          what: `${cmd.join(' ')} on ${JSON.stringify(s)}`,
          op: one(next, async () => {
            assert.equal(await resp(cmd), bulk(s.value), `${cmd.join(' ')} on ${JSON.stringify(s)}`);
            return next;
          }),
        };
      }
      if (r < 0.88) {
        const cond = pick(['', 'NX', 'XX', 'GT', 'LT']);
        const past = random() < 0.15;
        const time = past ? 1000 : random() < 0.2 && s.lo === s.hi && s.lo > 0 ? s.lo : at;
        const holds = has && expiryHolds(cond, s, time);
        const next = !holds ? s : past ? MISSING : { value: s.value, lo: time, hi: time };
        const cmd = ['PEXPIREAT', key, String(time), ...(cond === '' ? [] : [cond])];
        return {
          what: `${cmd.join(' ')} on ${JSON.stringify(s)}`,
          op: one(next, async () => {
            assert.equal(
              await resp(cmd),
              holds ? ':1\r\n' : ':0\r\n',
              `${cmd.join(' ')} on ${JSON.stringify(s)}`,
            );
            return next;
          }),
        };
      }
      if (r < 0.94) {
        const holds = has && s.hi > 0;
        const next = holds ? { value: s.value, lo: 0, hi: 0 } : s;
        return {
          what: `PERSIST ${key} on ${JSON.stringify(s)}`,
          op: one(next, async () => {
            assert.equal(
              await resp(['PERSIST', key]),
              holds ? ':1\r\n' : ':0\r\n',
              `PERSIST ${key} on ${JSON.stringify(s)}`,
            );
            return next;
          }),
        };
      }
      const persist = random() < 0.5;
      const next = !has ? s : persist ? { value: s.value, lo: 0, hi: 0 } : { value: s.value, lo: at, hi: at };
      const cmd = ['GETEX', key, ...(persist ? ['PERSIST'] : ['PXAT', String(at)])];
      return {
        what: `${cmd.join(' ')} on ${JSON.stringify(s)}`,
        op: one(next, async () => {
          assert.equal(await resp(cmd), bulk(s.value), `${cmd.join(' ')} on ${JSON.stringify(s)}`);
          return next;
        }),
      };
    };

    /** observe reads every key's value, version and exact expiry from the restarted node. */
    const observe = async (rc: RespConn): Promise<Map<string, KeyState>> => {
      const out = new Map<string, KeyState>();
      for (const key of acked.keys()) {
        const res = await fetch(`${base}/kv/${encodeURIComponent(key)}`);
        const value = res.status === 200 ? await res.text() : (await res.arrayBuffer(), undefined);
        assert.ok(res.status === 200 || res.status === 404, `GET ${key}: ${res.status}`);
        const [pt] = await rc.send([['PEXPIRETIME', key]]);
        const ms = Number(/^:(-?\d+)\r\n$/.exec(pt!)?.[1]);
        assert.equal(ms === -2, value === undefined, `PEXPIRETIME ${key} (${pt}) agrees with GET (${value})`);
        out.set(key, {
          value,
          lo: ms > 0 ? ms : 0,
          hi: ms > 0 ? ms : 0,
          ver: res.headers.get('etag') ?? undefined,
        });
      }
      return out;
    };

    const check = async (round: number): Promise<void> => {
      const rc = await RespConn.open(respOf(address));
      try {
        const seen = await observe(rc);
        const flightOf = new Map(
          inFlight.flatMap((f) => f.keys.map((k, i) => [k, { f, next: f.next[i]! }] as const)),
        );
        const applied = new Map<object, boolean[]>();
        for (const [key, o] of seen) {
          const s = acked.get(key)!;
          const fl = flightOf.get(key);
          const isAcked = same(o, s);
          const isNext = fl !== undefined && same(o, fl.next);
          assert.ok(
            isAcked || isNext,
            `after kill ${round} (seed ${seed}): ${key} is ${JSON.stringify(o)}; acknowledged ${JSON.stringify(s)}${fl === undefined ? '' : `, or after ${fl.f.what}: ${JSON.stringify(fl.next)}`}`,
          );
          if (isAcked && !isNext && s.ver !== undefined)
            assert.equal(
              o.ver,
              s.ver,
              `after kill ${round} (seed ${seed}): ${key}'s version is its acknowledged write's`,
            );
          if (fl !== undefined && isAcked !== isNext) {
            if (isNext) keptInFlight++;
            const list = applied.get(fl.f) ?? [];
            list.push(isNext);
            applied.set(fl.f, list);
          }
          acked.set(key, o);
        }
        for (const [f, list] of applied)
          assert.ok(
            list.every((x) => x === list[0]),
            `after kill ${round} (seed ${seed}): ${(f as { what: string }).what} is there in part`,
          );
        inFlight.length = 0;
      } finally {
        rc.close();
      }
      await replicaFollows(round);
    };

    /**
     * replicaFollows waits (up to 15 s) until the replica process serves exactly what the
     * restarted leader holds (`acked`, as just observed): each key's value, version and expiry.
     */
    const replicaFollows = async (round: number): Promise<void> => {
      const rc = await RespConn.open(respOf(replicaAddress));
      try {
        assert.equal((await rc.send([['READONLY']]))[0], '+OK\r\n');
        const want = Object.fromEntries(
          [...acked].map(([k, s]) => [k, { value: s.value, exp: s.lo, ver: s.ver }]),
        );
        const deadline = Date.now() + 15_000;
        for (;;) {
          const got: typeof want = {};
          for (const key of acked.keys()) {
            const res = await fetch(`http://${replicaAddress}/kv/${encodeURIComponent(key)}`);
            const value = res.status === 200 ? await res.text() : (await res.arrayBuffer(), undefined);
            const [pt] = await rc.send([['PEXPIRETIME', key]]);
            const ms = Number(/^:(-?\d+)\r\n$/.exec(pt!)?.[1]);
            got[key] = { value, exp: ms > 0 ? ms : 0, ver: res.headers.get('etag') ?? undefined };
          }
          if (Date.now() > deadline || JSON.stringify(got) === JSON.stringify(want)) {
            replicaKeys += Object.values(got).filter((g) => g.value !== undefined).length;
            assert.deepEqual(
              got,
              want,
              `after kill ${round} (seed ${seed}): the replica, caught up, serves its leader's keys, versions and expiries`,
            );
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        rc.close();
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      const server = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
      let stop = false;
      try {
        await check(round);
        const writers = Array.from({ length: WRITERS }, async (_, w) => {
          const rc = await RespConn.open(respOf(address));
          try {
            while (!stop) {
              const { op, what } = opFor(w, rc);
              let states: KeyState[];
              try {
                states = await op.run();
              } catch (err) {
                if (err instanceof assert.AssertionError) throw err;
                inFlight.push({ keys: op.keys, next: op.next, what });
                return;
              }
              op.keys.forEach((k, i) => acked.set(k, states[i]!));
              done++;
              // Learn the version a RESP write or a batch made (the writer alone writes its keys).
              if (random() < 0.3) {
                const k = op.keys[0]!;
                const res = await fetch(`${base}/kv/${encodeURIComponent(k)}`).catch(() => undefined);
                if (res === undefined) return;
                const value = res.status === 200 ? await res.text() : (await res.arrayBuffer(), undefined);
                if (res.status !== 200 && res.status !== 404) return;
                assert.equal(value, acked.get(k)!.value, `GET ${k} after ${what}`);
                acked.set(k, { ...acked.get(k)!, ver: res.headers.get('etag') ?? undefined });
              }
            }
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
          } finally {
            rc.close();
          }
        });
        const killed = new Promise<void>((resolve) => {
          setTimeout(
            () => {
              server.child.kill('SIGKILL');
              resolve();
            },
            300 + random() * 900,
          );
        });
        await Promise.all([killed, ...writers]).finally(() => {
          stop = true;
        });
        await server.waitExit();
      } catch (err) {
        stop = true;
        server.child.kill('SIGKILL');
        await server.waitExit();
        throw err;
      }
    }
    const last = await ServerProcess.start(args, `${base}/healthz`, { DISTKV_LOG_LEVEL: 'warn' });
    try {
      await check(ROUNDS);
    } finally {
      await last.stop();
    }
    assert.ok(done > ROUNDS * 20, `operations were answered (${done})`);
    t.diagnostic(
      `seed ${seed}: ${ROUNDS} kill -9 rounds, ${done} operations answered, ${keptInFlight} writes in flight kept, the replica caught up with ${replicaKeys} keys over the checks`,
    );
  });
});
