/**
 * The operations of test/robustness/kill9-ops.test.ts and their model: each writer owns its keys
 * and sends one operation at a time, so the model knows each key's state when one is sent; an
 * operation checks its answer against the model and says each key's state if it applies.
 */
import assert from 'node:assert/strict';
import type { RespConn } from './resp-conn.js';

/** BASE is a PXAT time far ahead; times are BASE + k s, so GT and LT compare them exactly. */
const BASE = Date.now() + 86_400_000;
/** TTL_MS is the least `ttl_ms` a PUT gives (its expiry is known to within the request's time). */
export const TTL_MS = 3_600_000;

/** KeyState is a key's value (undefined = missing), expiry bounds (0, 0 = none) and version (ETag) when known. */
export interface KeyState {
  value: string | undefined;
  lo: number;
  hi: number;
  ver?: string | undefined;
}

export const MISSING: KeyState = { value: undefined, lo: 0, hi: 0 };

/** same tells whether an observed state (exact expiry in lo) is `s`. */
export function same(observed: KeyState, s: KeyState): boolean {
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
export interface Op {
  keys: string[];
  next: KeyState[];
  /** run sends the operation; resolves with the states to acknowledge (per key), or throws when the connection went. */
  run: () => Promise<KeyState[]>;
}

/** OpContext is what `operations` draws from: the seeded random, the model, the node and each writer's keys. */
export interface OpContext {
  random: () => number;
  /** acked is each key's acknowledged state (the model). */
  acked: Map<string, KeyState>;
  /** base is the leader's HTTP base URL. */
  base: string;
  keysOf: (w: number) => string[];
}

/** operations returns a function that picks writer `w`'s next operation (over HTTP, or RESP on `rc`). */
export function operations(ctx: OpContext): (w: number, rc: RespConn) => { op: Op; what: string } {
  const { random, acked, base, keysOf } = ctx;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let counter = 0;
  return (w: number, rc: RespConn): { op: Op; what: string } => {
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
          c === 'match' ? { if_match: wrong ? `"0.${900000 + counter}"` : st.ver! } : { if_none_match: '*' };
        if (c === 'match' && random() < 0.3) return { op: { op: 'delete', key: k, ...cond }, next: MISSING };
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
}
