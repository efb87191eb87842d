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
 * wholly or not at all; and a replica of every shard, in a process of its own that is never
 * killed, must serve exactly what the leader holds once it caught up. Expiries are an hour ahead
 * or more, so none runs out during the test; one already past deletes the key. The SHARDS stores
 * share one worker's commit log; tiny memtables make flushes and compactions happen. The
 * operations and their model: test/helpers/kill9-ops.ts. npm test runs 3 rounds;
 * DISTKV_ROBUSTNESS=full 12.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type KeyState, MISSING, operations, same } from '../helpers/kill9-ops.js';
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

describe('SIGKILL under every kind of write (model)', () => {
  it(`keeps every acknowledged write's value, expiry and version across ${ROUNDS} kill -9 restarts`, async (t) => {
    const seed = testSeed();
    const random = seededRandom(seed);
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
    const keysOf = (w: number): string[] => Array.from({ length: KEYS_PER_WRITER }, (_, i) => `{w${w}}k${i}`);
    const acked = new Map<string, KeyState>();
    for (let w = 0; w < WRITERS; w++) for (const k of keysOf(w)) acked.set(k, MISSING);
    /** inFlight: each writer's operation in flight at the kill (its keys and their states if it applied). */
    const inFlight: { keys: string[]; next: KeyState[]; what: string }[] = [];
    let done = 0;
    let keptInFlight = 0;
    let replicaKeys = 0;

    const opFor = operations({ random, acked, base, keysOf });

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

    // The replica stops before the test's directory goes (tempDir's `after`).
    try {
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
    } finally {
      await replica.stop();
    }
    assert.ok(done > ROUNDS * 20, `operations were answered (${done})`);
    t.diagnostic(
      `seed ${seed}: ${ROUNDS} kill -9 rounds, ${done} operations answered, ${keptInFlight} writes in flight kept, the replica caught up with ${replicaKeys} keys over the checks`,
    );
  });
});
