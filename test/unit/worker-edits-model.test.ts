/**
 * The worker's edits and versions against a model (CONVENTIONS habit 10), where
 * worker-ops-model.test.ts does not go: APPEND, SETRANGE, INCRBYFLOAT and GETEX (EX, PERSIST, a
 * time already past) and PERSIST mixed with PUT, DELETE, INCR, SET NX, SET [XX] EX without the old
 * value (SET_IF_NO_OLD) and If-Match writes, on two stores of one
 * worker that hold the same key names, with keys of 1 byte, of bytes that are not UTF-8 and of
 * 1024 bytes, and values from 0 bytes to the edits' limit and one past it. Batches mostly follow
 * each other with their writes in flight. Every reply is checked, a 412's seq against the version
 * the model learnt for the key (0 when missing), and every key's value and expiry at the end; the
 * seed is printed on failure (DISTKV_SEED replays it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { addFloat } from '../../src/worker/long-double.js';
import {
  COND_IF_MATCH,
  EDIT_APPEND,
  EDIT_GETEX,
  EDIT_INCRBYFLOAT,
  EDIT_PERSIST,
  EDIT_SETRANGE,
  encodeEdit,
  encodeExt,
  encodeSetIf,
  OP_DELETE,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  SET_IF_NO_OLD,
  SET_IF_NX,
  SET_IF_XX,
  ST_CONFLICT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { encodeOld, incremented } from '../../src/worker/read-modify-write.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openSpecHost, runOps, testStoreSpec, untilReplies } from '../helpers/worker-host.js';

/** KeyState is the model of one key of one store: value (undefined = missing), expiry, and the op that wrote it. */
interface KeyState {
  value: Buffer | undefined;
  exp: number;
  ver: string;
}

/** Expect is what an op's reply must be: status, and when given its value and its seq. */
interface Expect {
  status: number;
  value?: Buffer;
  seq?: number | (() => number | undefined);
}

const KEYS = [Buffer.from('a'), Buffer.from([0xff, 0x00, 0x80, 0xc3]), Buffer.alloc(1024, 'k')];
const STORES = [0, 1];
/** LIMIT is the edits' limit (max_value_bytes), small so that edits reach it. */
const LIMIT = 4096;
const LONG_MS = 10 * 60_000;

function f64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n, 0);
  return b;
}

describe('the worker edits and versions against a model', () => {
  it('answers and keeps every key of two stores as the model does', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const dir = tempDir(after);
    const { host, replies, answeredTwice } = await openSpecHost(
      STORES.map((i) => testStoreSpec(join(dir, 'node', 'shard'), i)),
    );
    after(() => host.close());
    const model = new Map<string, KeyState>();
    const name = (store: number, key: Buffer): string => `${store}:${key.toString('hex')}`;
    for (const s of STORES)
      for (const k of KEYS) model.set(name(s, k), { value: undefined, exp: 0, ver: '' });
    const expected = new Map<number, Expect>();
    const writers = new Map<number, string>();
    const seqOf = new Map<string, number>();
    const storeOf = new Map<string, number>();
    let id = 0;

    const valueOf = (): Buffer => {
      const r = rnd();
      const n = r < 0.2 ? 0 : r < 0.8 ? 1 + int(8) : r < 0.95 ? int(LIMIT) : LIMIT;
      return Buffer.alloc(n, 48 + int(10));
    };
    const decimal = (): Buffer => Buffer.from(String(int(2000) - 1000));

    for (let round = 0; round < 150; round++) {
      runOps(host, (w) => {
        const n = 1 + int(10);
        for (let i = 0; i < n; i++) {
          const store = pick(STORES);
          const key = pick(KEYS);
          const k = name(store, key);
          const s = model.get(k)!;
          const old = s.value;
          id++;
          const op = id;
          const wrote = (value: Buffer | undefined, exp: number, e: Expect): void => {
            model.set(k, { value, exp, ver: `op${op}` });
            writers.set(op, `op${op}`);
            storeOf.set(`op${op}`, store);
            expected.set(op, e);
          };
          const r = rnd();
          if (r < 0.12) {
            const v = rnd() < 0.3 ? decimal() : valueOf();
            w.add(op, OP_PUT, store, key, v);
            wrote(v, 0, { status: ST_DONE });
          } else if (r < 0.18) {
            w.add(op, OP_DELETE, store, key, undefined);
            wrote(undefined, 0, { status: old === undefined ? ST_MISSING : ST_DONE });
          } else if (r < 0.26) {
            w.add(op, OP_INCR, store, key, '7');
            let next: Buffer | undefined;
            try {
              next = incremented(old, Buffer.from('7'));
            } catch {
              expected.set(op, { status: ST_ERROR });
            }
            if (next !== undefined) wrote(next, s.exp, { status: ST_DONE, value: next });
          } else if (r < 0.34) {
            const suffix = valueOf().subarray(0, 1 + int(rnd() < 0.1 ? LIMIT : 4));
            w.add(
              op,
              OP_EDIT,
              store,
              key,
              encodeEdit({ kind: EDIT_APPEND, limit: LIMIT, atMs: 0, arg: suffix }),
            );
            const next = Buffer.concat([old ?? Buffer.alloc(0), suffix]);
            if (next.length > LIMIT) expected.set(op, { status: ST_ERROR });
            else wrote(next, s.exp, { status: ST_DONE, value: Buffer.from(String(next.length)) });
          } else if (r < 0.42) {
            const at = rnd() < 0.1 ? LIMIT - 1 - int(3) : int(12);
            const bytes = Buffer.from('xy'.repeat(1 + int(2)));
            const arg = Buffer.concat([Buffer.alloc(4), bytes]);
            arg.writeUInt32LE(at, 0);
            w.add(op, OP_EDIT, store, key, encodeEdit({ kind: EDIT_SETRANGE, limit: LIMIT, atMs: 0, arg }));
            const length = Math.max(old?.length ?? 0, at + bytes.length);
            if (length > LIMIT) expected.set(op, { status: ST_ERROR });
            else {
              const next = Buffer.alloc(length);
              old?.copy(next);
              bytes.copy(next, at);
              wrote(next, s.exp, { status: ST_DONE, value: Buffer.from(String(length)) });
            }
          } else if (r < 0.5) {
            const delta = pick(['0.5', '-1.25', '3', '1e2', '0.1']);
            w.add(
              op,
              OP_EDIT,
              store,
              key,
              encodeEdit({ kind: EDIT_INCRBYFLOAT, limit: LIMIT, atMs: 0, arg: Buffer.from(delta) }),
            );
            const sum = addFloat(old?.toString('latin1'), delta);
            // A value of 4096 nines is a float: plus 0.5 it rounds to 10^4096, past the limit.
            if ('error' in sum || sum.value.length > LIMIT) expected.set(op, { status: ST_ERROR });
            else {
              const next = Buffer.from(sum.value, 'latin1');
              wrote(next, s.exp, { status: ST_DONE, value: next });
            }
          } else if (r < 0.6) {
            // GETEX: EX (a long TTL), PERSIST, or a time already past (deletes the key).
            const g = rnd();
            const atMs = g < 0.4 ? Date.now() + LONG_MS + int(1000) : g < 0.8 ? 0 : Date.now() - 1000;
            w.add(
              op,
              OP_EDIT,
              store,
              key,
              encodeEdit({ kind: EDIT_GETEX, limit: LIMIT, atMs, arg: Buffer.alloc(0) }),
            );
            const e = { status: ST_DONE, value: encodeOld(old) };
            if (old === undefined || (atMs === 0 && s.exp === 0)) expected.set(op, e);
            else if (atMs > 0 && atMs < Date.now()) wrote(undefined, 0, e);
            else wrote(old, atMs, e);
          } else if (r < 0.68) {
            const v = valueOf();
            const kind = rnd();
            if (kind < 0.4) {
              w.add(op, OP_SET_IF, store, key, Buffer.concat([Buffer.of(SET_IF_NX), v]));
              if (old === undefined) wrote(v, 0, { status: ST_DONE, value: encodeOld(old) });
              else expected.set(op, { status: ST_MISSING, value: encodeOld(old) });
            } else if (kind < 0.7) {
              // SET ... EX (XX half the time) without GET: no old value comes back.
              const xx = rnd() < 0.5 ? SET_IF_XX : 0;
              const atMs = Date.now() + LONG_MS + int(1000);
              w.add(op, OP_SET_IF, store, key, encodeSetIf(xx | SET_IF_NO_OLD, v, atMs));
              if (xx !== 0 && old === undefined)
                expected.set(op, { status: ST_MISSING, value: Buffer.alloc(0) });
              else wrote(v, atMs, { status: ST_DONE, value: Buffer.alloc(0) });
            } else {
              // PERSIST: removes an expiry the key has ("1"), else writes nothing ("0").
              w.add(
                op,
                OP_EDIT,
                store,
                key,
                encodeEdit({ kind: EDIT_PERSIST, limit: 0, atMs: 0, arg: Buffer.alloc(0) }),
              );
              if (old === undefined || s.exp === 0)
                expected.set(op, { status: ST_DONE, value: Buffer.from('0') });
              else wrote(old, 0, { status: ST_DONE, value: Buffer.from('1') });
            }
          } else if (r < 0.8) {
            // If-Match with the key's own version when it is known, else with another key's.
            const own = seqOf.get(s.ver);
            // Seqs are per store: another write of this store has another seq.
            const others = [...seqOf].filter(([ver]) => ver !== s.ver && storeOf.get(ver) === store);
            const holds = own !== undefined && old !== undefined && (rnd() < 0.7 || others.length === 0);
            const ifSeq = holds ? own : others.length > 0 ? pick(others)[1] : 1e9;
            const v = valueOf();
            w.add(op, OP_PUT_EXT, store, key, encodeExt({ flags: COND_IF_MATCH, ifSeq, expiresAtMs: 0 }, v));
            if (holds) wrote(v, 0, { status: ST_DONE });
            else {
              const ver = s.ver;
              const missing = old === undefined;
              // A 412 names the key's current version: 0 for a missing key, else its last write's seq.
              expected.set(op, { status: ST_CONFLICT, seq: () => (missing ? 0 : seqOf.get(ver)) });
            }
          } else if (r < 0.88) {
            w.add(op, OP_GET_EXPIRY, store, key, undefined);
            expected.set(
              op,
              old === undefined ? { status: ST_MISSING } : { status: ST_VALUE, value: f64(s.exp) },
            );
          } else {
            w.add(op, OP_GET, store, key, undefined);
            expected.set(op, old === undefined ? { status: ST_MISSING } : { status: ST_VALUE, value: old });
          }
        }
      });
      const pause = rnd();
      if (pause < 0.3) {
        await untilReplies(replies, [...expected.keys()]);
        for (const [op, ver] of writers) {
          const got = replies.get(op);
          if (got?.status === ST_DONE || got?.status === ST_MISSING) seqOf.set(ver, got.seq);
        }
      } else if (pause < 0.45) await new Promise((res) => setTimeout(res, int(10)));
    }
    await untilReplies(replies, [...expected.keys()]);
    for (const [op, ver] of writers) {
      const got = replies.get(op);
      if (got?.status === ST_DONE || got?.status === ST_MISSING) seqOf.set(ver, got.seq);
    }
    assert.deepEqual(answeredTwice, [], `ops answered twice (seed ${seed})`);
    for (const [op, want] of expected) {
      const got = replies.get(op)!;
      const detail = `op ${op} (seed ${seed}): ${got.status === ST_ERROR ? got.value.toString() : ''}`;
      assert.equal(got.status, want.status, `status of ${detail}`);
      if (want.value !== undefined) assert.deepEqual(got.value, want.value, `value of ${detail}`);
      const seq = typeof want.seq === 'function' ? want.seq() : want.seq;
      if (seq !== undefined) assert.equal(got.seq, seq, `seq of ${detail}`);
    }
    const base = id + 1;
    const all = STORES.flatMap((store) => KEYS.map((key) => ({ store, key })));
    runOps(host, (w) => {
      all.forEach(({ store, key }, i) => {
        w.add(base + 2 * i, OP_GET, store, key, undefined);
        w.add(base + 2 * i + 1, OP_GET_EXPIRY, store, key, undefined);
      });
    });
    await untilReplies(
      replies,
      all.flatMap((_, i) => [base + 2 * i, base + 2 * i + 1]),
    );
    all.forEach(({ store, key }, i) => {
      const s = model.get(name(store, key))!;
      const got = replies.get(base + 2 * i)!;
      const where = `store ${store} key ${key.subarray(0, 8).toString('hex')} at the end, written by ${s.ver} (seed ${seed})`;
      assert.deepEqual(got.status === ST_VALUE ? got.value : undefined, s.value, where);
      const exp = replies.get(base + 2 * i + 1)!;
      if (s.value !== undefined) assert.deepEqual(exp.value, f64(s.exp), `expiry of ${where}`);
    });
  });
});
