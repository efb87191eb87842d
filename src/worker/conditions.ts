/**
 * The write conditions of the _EXT ops (op-format.ts): whether a key's current version satisfies
 * an ext's If-Match / If-None-Match / If-Match: * flags; and those of EDIT_EXPIRE, Redis 7's
 * EXPIRE NX / XX / GT / LT on the key's current expiry. Pure: the shard host reads the key and
 * issues the write in the same synchronous step.
 */
import type { StoreValue } from '../storage/store.js';
import {
  COND_EXPIRES,
  COND_IF_EXISTS,
  COND_IF_MATCH,
  COND_IF_NONE_MATCH,
  EXPIRE_GT,
  EXPIRE_LT,
  EXPIRE_NX,
  EXPIRE_XX,
  type WriteExt,
} from './op-format.js';

/** conditionHolds tells whether `ext`'s conditions hold for a key whose live value is `cur` (undefined = missing). */
export function conditionHolds(ext: WriteExt, cur: StoreValue | undefined): boolean {
  return (
    (!(ext.flags & COND_IF_MATCH) || cur?.seq === ext.ifSeq) &&
    (!(ext.flags & COND_IF_NONE_MATCH) || cur === undefined) &&
    (!(ext.flags & COND_IF_EXISTS) || cur !== undefined) &&
    (!(ext.flags & COND_EXPIRES) || (cur !== undefined && cur.expiresAtMs > 0))
  );
}

/**
 * expiryConditionHolds tells whether EXPIRE_ flags `cond` hold for an existing key whose expiry is
 * `currentMs` (0 = none) and a new expiry `atMs`, as Redis 7's expireGenericCommand checks them: no
 * expiry counts as infinite, so GT never holds on a key without one and LT always does.
 */
export function expiryConditionHolds(cond: number, currentMs: number, atMs: number): boolean {
  const persistent = currentMs === 0;
  return (
    (!(cond & EXPIRE_NX) || persistent) &&
    (!(cond & EXPIRE_XX) || !persistent) &&
    (!(cond & EXPIRE_GT) || (!persistent && atMs > currentMs)) &&
    (!(cond & EXPIRE_LT) || persistent || atMs < currentMs)
  );
}
