/**
 * The write conditions of the _EXT ops (op-format.ts): whether a key's current version satisfies
 * an ext's If-Match / If-None-Match / If-Match: * flags. Pure: the shard host reads the key and
 * issues the write in the same synchronous step.
 */
import type { StoreValue } from '../storage/store.js';
import {
  COND_EXPIRES,
  COND_IF_EXISTS,
  COND_IF_MATCH,
  COND_IF_NONE_MATCH,
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
