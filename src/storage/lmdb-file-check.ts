/**
 * A check of an LMDB data file's meta pages and length before LMDB maps it. LMDB memory-maps
 * `data.mdb` and trusts it: a file cut short (a careless copy, a failing disk) makes the first read
 * of a page past its end a SIGBUS, and a zeroed first meta page a SIGSEGV, either ending the whole
 * process, every store with it. So before opening, the meta pages are read as LMDB lays them out
 * (the build lmdb-js ships), and a CorruptionError naming the file and the offset refuses:
 *
 * - a meta page 0 or 1 that is not one (no magic, or an impossible page size): LMDB writes both
 *   when it creates the file and afterwards rewrites only their meta fields;
 * - a file that ends before a root page every meta points to.
 *
 * The length rule is about root pages, not the meta's last page in use: a healthy file is often
 * shorter than (lastPage + 1) × pageSize. LMDB writes pages with pwrite, never sizing the file ahead
 * (unless lmdb-js maps it writable, when the file already spans the map), and a commit skips the
 * pages it allocated and freed again (its loose pages, and the overflow pages of a big value
 * overwritten in the same transaction, which mdb_ovpage_free takes off the dirty list): lastPage
 * counts them, the file never held them. A page some tree links to, though, was written by the
 * commit that linked it. LMDB may also open an older snapshot than the newest meta (lmdb-js's
 * overlappingSync restores the last flushed one after a restart, kept in the second half of page
 * 0), so a file is refused only when no meta's roots are in it: a healthy store is never refused,
 * and a file cut below every root is. Deeper pages are not walked: a cut that spares the roots
 * still crashes on first touch of a lost page (docs/operations.md).
 *
 *   page     := header:u8[24] body                     (page 0 and page 1 are the meta pages)
 *   meta     := magic:u32 version:u32 address:u64 mapsize:u64 db[2] lastPage:u64 txnid:u64
 *   db       := pad:u32 flags:u16 depth:u16 branch:u64 leaf:u64 overflow:u64 entries:u64 root:u64
 *               (48 bytes; db[0] is the free-page tree and its pad holds the page size, db[1] the
 *               main tree; root all ones = an empty tree)
 *
 * An empty file (never initialised) is the only one left to LMDB unchecked.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { CorruptionError } from '../errors.js';

/** LMDB_MAGIC is LMDB's meta page magic. */
const LMDB_MAGIC = 0xbeefc0de;
/** META_AT is the offset of the meta fields in a meta page (after the page header). */
const META_AT = 24;
const DB_AT = META_AT + 24;
const DB_BYTES = 48;
const ROOT_IN_DB = 40;
const TXNID_AT = DB_AT + 2 * DB_BYTES + 8;
const META_BYTES = TXNID_AT + 8;
/** NO_PAGE is LMDB's P_INVALID, the root of an empty tree. */
const NO_PAGE = 0xffffffffffffffffn;

/** MetaPage is what the check reads of one meta page. */
interface MetaPage {
  pageSize: number;
  txnid: bigint;
  /** roots: the root pages of the free-page and main trees that are not empty. */
  roots: bigint[];
}

function readMeta(fd: number, at: number): MetaPage | undefined {
  const b = Buffer.alloc(META_BYTES);
  if (readSync(fd, b, 0, META_BYTES, at) !== META_BYTES) return undefined;
  if (b.readUInt32LE(META_AT) !== LMDB_MAGIC) return undefined;
  const pageSize = b.readUInt32LE(DB_AT);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  const roots = [0, 1]
    .map((db) => b.readBigUInt64LE(DB_AT + db * DB_BYTES + ROOT_IN_DB))
    .filter((root) => root !== NO_PAGE);
  return { pageSize, txnid: b.readBigUInt64LE(TXNID_AT), roots };
}

/** checkLmdbFile throws a CorruptionError when LMDB data file `path` has a damaged meta page or ends before the roots of every meta. */
export function checkLmdbFile(path: string): void {
  if (!existsSync(path)) return;
  const size = BigInt(statSync(path).size);
  if (size === 0n) return;
  const fd = openSync(path, 'r');
  try {
    const first = readMeta(fd, 0);
    if (first === undefined) throw new CorruptionError(path, 0, 'the first LMDB meta page is damaged');
    const second = readMeta(fd, first.pageSize);
    if (second === undefined)
      throw new CorruptionError(path, first.pageSize, 'the second LMDB meta page is damaged');
    // The flushed snapshot lmdb-js keeps with overlappingSync; absent (or zeros) without it.
    const flushed = readMeta(fd, first.pageSize / 2);
    const metas = flushed === undefined ? [first, second] : [first, second, flushed];
    const pageSize = BigInt(first.pageSize);
    const inFile = (m: MetaPage): boolean => m.roots.every((root) => (root + 1n) * pageSize <= size);
    if (metas.some(inFile)) return;
    const newest = second.txnid > first.txnid ? second : first;
    const root = newest.roots.reduce((a, b) => (b > a ? b : a));
    throw new CorruptionError(
      path,
      Number(size),
      `LMDB data file ends at ${size} bytes, before root page ${root} (bytes up to ${(root + 1n) * pageSize}) of its newest meta (txn ${newest.txnid}), and no older meta's roots are in it (the file was cut short)`,
    );
  } finally {
    closeSync(fd);
  }
}
