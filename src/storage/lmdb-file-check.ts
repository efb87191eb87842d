/**
 * A check of an LMDB data file's meta pages and length before LMDB maps it. LMDB memory-maps
 * `data.mdb` and trusts it: a file cut short (a careless copy, a failing disk) makes the first read
 * of a page past its end a SIGBUS, and a zeroed first meta page a SIGSEGV, either ending the whole
 * process, every store with it. So before opening, the two meta pages are read as LMDB lays them
 * out (the build lmdb-js ships): one that is not a meta page is refused, and so is a file that ends
 * before the last page the newer one says is in use, with a CorruptionError naming the file and
 * the offset.
 *
 *   page     := header:u8[24] body                     (page 0 and page 1 are the meta pages)
 *   meta     := magic:u32 version:u32 address:u64 mapsize:u64 db[2] lastPage:u64 txnid:u64
 *   db       := pad:u32 flags:u16 depth:u16 branch:u64 leaf:u64 overflow:u64 entries:u64 root:u64
 *               (48 bytes; db[0].pad holds the page size)
 *
 * LMDB writes both meta pages when it creates the file, so an empty file (never initialised) is the
 * only one left to LMDB unchecked.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { CorruptionError } from '../errors.js';

/** LMDB_MAGIC is LMDB's meta page magic. */
const LMDB_MAGIC = 0xbeefc0de;
/** META_AT is the offset of the meta fields in a meta page (after the page header). */
const META_AT = 24;
const PAGE_SIZE_AT = META_AT + 24;
const LAST_PAGE_AT = META_AT + 24 + 2 * 48;
const TXNID_AT = LAST_PAGE_AT + 8;
const META_BYTES = TXNID_AT + 8;

/** MetaPage is what the check reads of one meta page. */
interface MetaPage {
  pageSize: number;
  lastPage: number;
  txnid: number;
}

function readMeta(fd: number, at: number): MetaPage | undefined {
  const b = Buffer.alloc(META_BYTES);
  if (readSync(fd, b, 0, META_BYTES, at) !== META_BYTES) return undefined;
  if (b.readUInt32LE(META_AT) !== LMDB_MAGIC) return undefined;
  const pageSize = b.readUInt32LE(PAGE_SIZE_AT);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  return {
    pageSize,
    lastPage: Number(b.readBigUInt64LE(LAST_PAGE_AT)),
    txnid: Number(b.readBigUInt64LE(TXNID_AT)),
  };
}

/** checkLmdbFile throws a CorruptionError when LMDB data file `path` has a damaged meta page or ends before its last page in use. */
export function checkLmdbFile(path: string): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  if (size === 0) return;
  const fd = openSync(path, 'r');
  try {
    const first = readMeta(fd, 0);
    if (first === undefined) throw new CorruptionError(path, 0, 'the first LMDB meta page is damaged');
    const second = readMeta(fd, first.pageSize);
    if (second === undefined)
      throw new CorruptionError(path, first.pageSize, 'the second LMDB meta page is damaged');
    const meta = second.txnid > first.txnid ? second : first;
    const needed = (meta.lastPage + 1) * meta.pageSize;
    if (size < needed)
      throw new CorruptionError(
        path,
        size,
        `LMDB data file ends at ${size} bytes but its meta page (txn ${meta.txnid}) uses pages up to ${needed} bytes (the file was cut short)`,
      );
  } finally {
    closeSync(fd);
  }
}
