/**
 * The ops and the model of test/helpers/worker-crash-model.ts: random batches of every kind of key
 * op a front door sends to a shard worker, each with the reply the model expects and the points of
 * its keys' histories it read and wrote. The model runs the ops in the order the worker issues them
 * (each key's ops in arrival order): a key's history is its state after each write.
 */
import type { RequestWriter } from '../../src/worker/op-codec.js';
import {
  COND_EXPIRES,
  COND_IF_EXISTS,
  COND_IF_MATCH,
  COND_IF_NONE_MATCH,
  EDIT_APPEND,
  EDIT_EXPIRE,
  EDIT_GETEX,
  EDIT_INCRBY,
  encodeEdit,
  encodeExt,
  encodeSetIf,
  encodeTxn,
  EXPIRE_GT,
  EXPIRE_LT,
  EXPIRE_NX,
  EXPIRE_XX,
  EXT_KEEP_TTL,
  EXT_KEEP_VALUE,
  OP_DELETE,
  OP_DELETE_COUNTED,
  OP_DELETE_EXT,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  OP_TXN,
  SET_IF_KEEP_TTL,
  SET_IF_NX,
  SET_IF_XX,
  ST_CONFLICT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
  type TxnSub,
} from '../../src/worker/op-format.js';
import { encodeOld } from '../../src/worker/read-modify-write.js';
import type { HostReply } from './worker-host.js';

/** State is a key's value (undefined = missing) and expiry (0 = none). */
export interface State {
  value: string | undefined;
  exp: number;
}

/** Point is one point of a key's history: the state a write left, and the op that wrote it (0: the round's start). */
export interface Point extends State {
  op: number;
  /** seq is the version the store holds for it, when known (the round's start, or a reply). */
  seq?: number;
}

/** Expect is what an op's reply must be: its status and, when given, its value. */
export interface Expect {
  status: number;
  /**
   * late is the status also right when the op may have run after the short expiry it sets had
   * passed (a put written as a delete answers ST_MISSING: conditional-writes.ts); the batch can
   * wait that long behind a loaded machine or a key's write in flight.
   */
  late?: number;
  value?: Buffer;
  /** reads lists the points the op read (store, key, index): a reply proves them durable. */
  reads: { store: number; key: string; at: number }[];
  /** writes lists the points the op wrote: a success reply proves them durable. */
  writes: { store: number; key: string; at: number }[];
  /** txn: the op's writes are one transaction (all there or none; no seq learnt per key). */
  txn: boolean;
  /** what names the op, for messages. */
  what: string;
}

/** KEYS are the keys of every store; STORES how many stores share the worker's commit log. */
export const KEYS = ['a', 'b', 'c', 'd', 'e'];
export const STORES = 2;
/** BASE is an expiry far beyond any run; expiries are BASE + k s, so GT and LT compare them. */
const BASE = Date.now() + 86_400_000;
/** PAST is an expiry already passed: the write deletes the key. */
const PAST = 1000;
/** SHORT_MS bounds a short TTL: it runs out during the round, and the reaper logs its expire record. */
const SHORT_MS = 30;

/** ANY is an expected status that is not checked (a DELETE racing an expiry: existed or not). */
export const ANY = -1;

/** statusFits tells whether reply status `got` is one the model allows for the op expected as `want`. */
export function statusFits(want: Expect, got: number): boolean {
  return want.status === ANY || got === want.status || (want.late !== undefined && got === want.late);
}

/** isShort tells whether expiry `exp` is a short TTL's (it runs out during the round). */
export function isShort(exp: number): boolean {
  return exp > 0 && exp < BASE - 3_600_000;
}

/** liveAt is the state `s` shows at `now`: missing once a short TTL ran out. */
export function liveAt(s: State, now: number): State {
  return s.exp > 0 && s.exp <= now ? { value: undefined, exp: 0 } : s;
}

/** KINDS names the op kinds by the upper bound of their share of the random draw in `batchFiller`. */
const KINDS: [number, string][] = [
  [0.06, 'PUT'],
  [0.12, 'PUT with expiry'],
  [0.16, 'DELETE'],
  [0.21, 'If-Match PUT or DELETE'],
  [0.25, 'If-None-Match PUT'],
  [0.29, 'keep-TTL PUT'],
  [0.33, 'EXPIRE (keep-value PUT)'],
  [0.37, 'PERSIST (keep-value PUT)'],
  [0.44, 'transaction'],
  [0.49, 'INCR'],
  [0.53, 'APPEND'],
  [0.63, 'SET GET'],
  [0.67, 'counted DELETE'],
  [0.72, 'GETEX'],
  [0.86, 'EXPIRE NX/XX/GT/LT'],
  [0.93, 'GET expiry'],
  [1, 'GET'],
];

/** expiryHolds is Redis 7's EXPIRE NX/XX/GT/LT on an existing key with expiry `cur` (0 = none, an infinite one). */
function expiryHolds(cond: number, cur: number, at: number): boolean {
  const none = cur === 0;
  if (cond & EXPIRE_NX && !none) return false;
  if (cond & EXPIRE_XX && none) return false;
  if (cond & EXPIRE_GT && (none || at <= cur)) return false;
  if (cond & EXPIRE_LT && !none && at >= cur) return false;
  return true;
}

/** f64 is OP_GET_EXPIRY's reply value for expiry `n`. */
function f64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n, 0);
  return b;
}

/** OpsContext is what `batchFiller` draws from and writes to. */
export interface OpsContext {
  rnd: () => number;
  /** hist[store][key]: the key's history this round; its last point is its newest state. */
  hist: Map<string, Point[]>[];
  /** expected is each op's expected reply and the points it read and wrote, by op id. */
  expected: Map<number, Expect>;
  /** replies are the host's replies so far (versions learnt from them). */
  replies: Map<number, HostReply>;
  nextId: () => number;
}

/** batchFiller returns a function that writes one random batch of ops into a RequestWriter and records each in the model. */
export function batchFiller(ctx: OpsContext): (w: RequestWriter) => void {
  const { rnd, hist, expected, replies, nextId } = ctx;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const expiryAt = (): number => BASE + Math.floor(rnd() * 20) * 1000;
  const shortExpiry = (): number => Date.now() + 1 + Math.floor(rnd() * SHORT_MS);
  const newest = (store: number, key: string): Point => hist[store]!.get(key)!.at(-1)!;
  const at = (store: number, key: string): number => hist[store]!.get(key)!.length - 1;
  const push = (store: number, key: string, s: State, op: number): number => {
    hist[store]!.get(key)!.push({ ...s, op });
    return at(store, key);
  };
  /** knownSeq is the version of the key's newest point when a reply told it. */
  const knownSeq = (store: number, key: string): number | undefined => {
    const p = newest(store, key);
    if (p.seq !== undefined) return p.seq;
    const e = expected.get(p.op);
    const r = replies.get(p.op);
    return e !== undefined && !e.txn && r !== undefined && r.status !== ST_ERROR ? r.seq : undefined;
  };
  return (w: RequestWriter): void => {
    const n = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) {
      const store = Math.floor(rnd() * STORES);
      const key = pick(KEYS);
      const s = newest(store, key);
      const has = s.value !== undefined;
      const old = has ? Buffer.from(s.value!) : undefined;
      const v = String(1000 + Math.floor(rnd() * 9000));
      const op = nextId();
      let what = '';
      const read = (status: number, value?: Buffer): void => {
        expected.set(op, {
          status,
          ...(value === undefined ? {} : { value }),
          reads: [{ store, key, at: at(store, key) }],
          writes: [],
          txn: false,
          what,
        });
      };
      const write = (next: State, status: number, value?: Buffer): void => {
        const reads = [{ store, key, at: at(store, key) }];
        const i = push(store, key, next, op);
        expected.set(op, {
          status,
          // A short TTL may have passed before the put ran: it is then written as a delete.
          ...(isShort(next.exp) ? { late: ST_MISSING } : {}),
          ...(value === undefined ? {} : { value }),
          reads,
          writes: [{ store, key, at: i }],
          txn: false,
          what,
        });
      };
      if (isShort(s.exp)) {
        // Expiring now or soon: only blind writes, whose outcome does not depend on when; the
        // reaper's expire record races them.
        const r = rnd();
        what = `blind write of a key with a short TTL ${store}/${key}`;
        if (r < 0.4) {
          w.add(op, OP_PUT, store, key, v);
          write({ value: v, exp: 0 }, ST_DONE);
        } else if (r < 0.75) {
          const exp = rnd() < 0.5 ? shortExpiry() : expiryAt();
          w.add(op, OP_PUT_EXT, store, key, encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: exp }, v));
          write({ value: v, exp }, ST_DONE);
        } else {
          w.add(op, OP_DELETE, store, key, undefined);
          write({ value: undefined, exp: 0 }, ANY);
        }
        continue;
      }
      const r = rnd();
      what = `${KINDS.find(([upTo]) => r < upTo)![1]} ${store}/${key}`;
      if (r < 0.06) {
        w.add(op, OP_PUT, store, key, v);
        write({ value: v, exp: 0 }, ST_DONE);
      } else if (r < 0.12) {
        // Some expire within the round: the reaper logs their expire records as the power goes.
        const exp = rnd() < 0.3 ? shortExpiry() : expiryAt();
        w.add(op, OP_PUT_EXT, store, key, encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: exp }, v));
        write({ value: v, exp }, ST_DONE);
      } else if (r < 0.16) {
        w.add(op, OP_DELETE, store, key, undefined);
        write({ value: undefined, exp: 0 }, has ? ST_DONE : ST_MISSING);
      } else if (r < 0.21) {
        const seq = knownSeq(store, key);
        const holds = has && seq !== undefined && rnd() < 0.7;
        const ifSeq = holds ? seq : 1e9 + Math.floor(rnd() * 1000);
        const exp = rnd() < 0.3 ? expiryAt() : 0;
        const del = rnd() < 0.3;
        if (del) {
          w.add(op, OP_DELETE_EXT, store, key, encodeExt({ flags: COND_IF_MATCH, ifSeq, expiresAtMs: 0 }));
          if (holds) write({ value: undefined, exp: 0 }, ST_DONE);
          else read(ST_CONFLICT);
        } else {
          w.add(op, OP_PUT_EXT, store, key, encodeExt({ flags: COND_IF_MATCH, ifSeq, expiresAtMs: exp }, v));
          if (holds) write({ value: v, exp }, ST_DONE);
          else read(ST_CONFLICT);
        }
      } else if (r < 0.25) {
        w.add(
          op,
          OP_PUT_EXT,
          store,
          key,
          encodeExt({ flags: COND_IF_NONE_MATCH, ifSeq: 0, expiresAtMs: 0 }, v),
        );
        if (!has) write({ value: v, exp: 0 }, ST_DONE);
        else read(ST_CONFLICT);
      } else if (r < 0.29) {
        // SET KEEPTTL (+ XX): the value changes, the expiry stays.
        const flags = EXT_KEEP_TTL | (rnd() < 0.5 ? COND_IF_EXISTS : 0);
        w.add(op, OP_PUT_EXT, store, key, encodeExt({ flags, ifSeq: 0, expiresAtMs: 0 }, v));
        if (flags & COND_IF_EXISTS && !has) read(ST_CONFLICT);
        else write({ value: v, exp: has ? s.exp : 0 }, ST_DONE);
      } else if (r < 0.33) {
        // EXPIRE as a keep-value put.
        const exp = expiryAt();
        w.add(
          op,
          OP_PUT_EXT,
          store,
          key,
          encodeExt({ flags: COND_IF_EXISTS | EXT_KEEP_VALUE, ifSeq: 0, expiresAtMs: exp }),
        );
        if (has) write({ value: s.value, exp }, ST_DONE);
        else read(ST_CONFLICT);
      } else if (r < 0.37) {
        // PERSIST as a keep-value put.
        w.add(
          op,
          OP_PUT_EXT,
          store,
          key,
          encodeExt({ flags: COND_EXPIRES | EXT_KEEP_VALUE, ifSeq: 0, expiresAtMs: 0 }),
        );
        if (has && s.exp > 0) write({ value: s.value, exp: 0 }, ST_DONE);
        else read(ST_CONFLICT);
      } else if (r < 0.44) {
        // A two-key transaction of one store: puts or (If-Match) deletes, all or nothing.
        const others = KEYS.filter((k) => k !== key && !isShort(newest(store, k).exp));
        if (others.length === 0) {
          what = `GET ${store}/${key}`;
          w.add(op, OP_GET, store, key, undefined);
          read(has ? ST_VALUE : ST_MISSING, old);
          continue;
        }
        const other = pick(others);
        const t = newest(store, other);
        const subs: TxnSub[] = [];
        const nexts: State[] = [];
        let holdsAll = true;
        for (const [k, st] of [
          [key, s],
          [other, t],
        ] as const) {
          const seq = knownSeq(store, k);
          const useMatch = st.value !== undefined && seq !== undefined && rnd() < 0.7;
          const holds = useMatch ? rnd() < 0.8 : st.value === undefined;
          holdsAll &&= holds;
          const cond = useMatch
            ? { flags: COND_IF_MATCH, ifSeq: holds ? seq : seq + 1e9 }
            : { flags: COND_IF_NONE_MATCH, ifSeq: 0 };
          if (useMatch && rnd() < 0.3) {
            subs.push({
              op: OP_DELETE_EXT,
              key: Buffer.from(k),
              value: encodeExt({ ...cond, expiresAtMs: 0 }),
            });
            nexts.push({ value: undefined, exp: 0 });
          } else {
            const exp = rnd() < 0.3 ? expiryAt() : 0;
            const tv = `t${op}${k}`;
            subs.push({
              op: OP_PUT_EXT,
              key: Buffer.from(k),
              value: encodeExt({ ...cond, expiresAtMs: exp }, tv),
            });
            nexts.push({ value: tv, exp });
          }
        }
        w.add(op, OP_TXN, store, '', encodeTxn(subs));
        const reads = [key, other].map((k) => ({ store, key: k, at: at(store, k) }));
        const writes = holdsAll
          ? [key, other].map((k, j) => ({ store, key: k, at: push(store, k, nexts[j]!, op) }))
          : [];
        expected.set(op, { status: holdsAll ? ST_DONE : ST_CONFLICT, reads, writes, txn: true, what });
      } else if (r < 0.49) {
        const edit = rnd() < 0.5;
        if (edit)
          w.add(
            op,
            OP_EDIT,
            store,
            key,
            encodeEdit({ kind: EDIT_INCRBY, limit: 1 << 20, atMs: 0, arg: Buffer.from('7') }),
          );
        else w.add(op, OP_INCR, store, key, '7');
        const cur = has ? Number(s.value) : 0;
        if (has && !/^-?\d+$/.test(s.value!)) read(ST_ERROR);
        else {
          const next = String(cur + 7);
          write({ value: next, exp: s.exp }, ST_DONE, Buffer.from(next));
        }
      } else if (r < 0.53) {
        const digit = String(Math.floor(rnd() * 10));
        w.add(
          op,
          OP_EDIT,
          store,
          key,
          encodeEdit({ kind: EDIT_APPEND, limit: 1 << 20, atMs: 0, arg: Buffer.from(digit) }),
        );
        const next = (s.value ?? '') + digit;
        write({ value: next, exp: s.exp }, ST_DONE, Buffer.from(String(next.length)));
      } else if (r < 0.63) {
        // SET [NX|XX] GET [EX|PXAT past|KEEPTTL]
        const cond = pick([0, SET_IF_NX, SET_IF_XX]);
        const ttl = pick(['none', 'at', 'past', 'keep'] as const);
        const exp = ttl === 'at' ? expiryAt() : ttl === 'past' ? PAST : 0;
        const flags = cond | (ttl === 'keep' ? SET_IF_KEEP_TTL : 0);
        w.add(op, OP_SET_IF, store, key, encodeSetIf(flags, Buffer.from(v), exp));
        const skip = (cond === SET_IF_NX && has) || (cond === SET_IF_XX && !has);
        if (skip) read(ST_MISSING, encodeOld(old));
        else
          write(
            ttl === 'past'
              ? { value: undefined, exp: 0 }
              : { value: v, exp: ttl === 'keep' ? (has ? s.exp : 0) : exp },
            ST_DONE,
            encodeOld(old),
          );
      } else if (r < 0.67) {
        w.add(op, OP_DELETE_COUNTED, store, key, Buffer.alloc(0));
        if (has) write({ value: undefined, exp: 0 }, ST_DONE, encodeOld(old));
        else read(ST_DONE, encodeOld(old));
      } else if (r < 0.72) {
        // GETEX EXAT / PXAT past / PERSIST
        const kind = pick(['at', 'past', 'persist'] as const);
        const atMs = kind === 'at' ? expiryAt() : kind === 'past' ? PAST : 0;
        w.add(
          op,
          OP_EDIT,
          store,
          key,
          encodeEdit({ kind: EDIT_GETEX, limit: 1 << 20, atMs, arg: Buffer.alloc(0) }),
        );
        if (!has || (atMs === 0 && s.exp === 0)) read(ST_DONE, encodeOld(old));
        else if (kind === 'past') write({ value: undefined, exp: 0 }, ST_DONE, encodeOld(old));
        else write({ value: s.value, exp: atMs }, ST_DONE, encodeOld(old));
      } else if (r < 0.86) {
        // EXPIRE [NX|XX|GT|LT] to a time ahead (sometimes the key's own), or one past.
        const cond = pick([
          0,
          EXPIRE_NX,
          EXPIRE_XX,
          EXPIRE_GT,
          EXPIRE_LT,
          EXPIRE_XX | EXPIRE_GT,
          EXPIRE_XX | EXPIRE_LT,
        ]);
        const atMs = rnd() < 0.15 ? PAST : rnd() < 0.2 && s.exp > 0 ? s.exp : expiryAt();
        w.add(
          op,
          OP_EDIT,
          store,
          key,
          encodeEdit({ kind: EDIT_EXPIRE, limit: 1 << 20, atMs, arg: Buffer.of(cond) }),
        );
        if (!has || !expiryHolds(cond, s.exp, atMs)) read(ST_DONE, Buffer.from('0'));
        else if (atMs === PAST) write({ value: undefined, exp: 0 }, ST_DONE, Buffer.from('1'));
        else write({ value: s.value, exp: atMs }, ST_DONE, Buffer.from('1'));
      } else if (r < 0.93) {
        w.add(op, OP_GET_EXPIRY, store, key, undefined);
        if (has) read(ST_VALUE, f64(s.exp));
        else read(ST_MISSING);
      } else {
        w.add(op, OP_GET, store, key, undefined);
        if (has) read(ST_VALUE, old);
        else read(ST_MISSING);
      }
    }
  };
}
