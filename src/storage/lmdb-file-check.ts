/**
 * A check of an LMDB data file's meta pages and length before LMDB maps it. LMDB memory-maps
 * `data.mdb` and trusts it: a file cut short (a careless copy, a failing disk) makes the first read
 * of a page past its end a SIGBUS, and a zeroed first meta page a SIGSEGV, either ending the whole
 * process, every store with it. So before opening, the meta pages are read as LMDB lays them out
 * (the build lmdb-js ships), and a CorruptionError naming the file and the offset refuses:
 *
 * - a meta page 0 or 1 that is not one (no magic, or an impossible page size): LMDB writes both
 *   when it creates the file and afterwards rewrites only their meta fields;
 * - a file that ends before a page in use by the meta LMDB will open it at.
 *
 * LMDB itself refuses to read a page past the meta's last page (MDB_PAGE_NOTFOUND), so a file
 * that holds every page up to it, (lastPage + 1) × pageSize bytes or more, is accepted at once:
 * what a cleanly written store always is, at the cost of reading two or three meta fields. A
 * shorter file is not damaged on that account: LMDB writes pages with pwrite, never sizing the
 * file ahead, and a commit skips the pages it allocated and freed again (its loose pages, and the
 * overflow pages of a big value overwritten in the same transaction, which mdb_ovpage_free takes
 * off the dirty list): lastPage counts them, the file never held them. A page a tree links to,
 * though, was written by the commit that linked it. So then the check walks the trees from that
 * meta's roots, the free-page tree, the main tree and the named databases it holds, and each
 * overflow run a leaf names (its length follows from the value's size, as LMDB's OVPAGES computes
 * it: the overflow pages themselves are not read). A tree's leaves are read where they can link
 * to pages: in the main tree (the named databases' records), in a tree whose db record counts
 * overflow pages (values over ~2 KiB with 4 KiB pages), in one of duplicates; any other tree is
 * walked down to its last branch level, its leaves looked for, not read. The walk goes level by
 * level, each level's pages sorted and read with one pread per run of consecutive pages, so a tree laid
 * out in order is read in large sequential chunks. With overlappingSync LMDB may open an older
 * snapshot than the newest meta (the last flushed one, kept in the second half of page 0, after a
 * power loss); which one depends on the boot LMDB compares against, so the check accepts the file
 * when either choice leads to a meta whose pages are all there, and otherwise follows LMDB's
 * choice: a healthy store is never refused. A page that does not parse ends that branch of the
 * walk without a verdict (LMDB has no page checksums; the value checksums of
 * lmdb-value-format.ts catch what reads return).
 *
 *   page     := pgno:u64 txnid:u64 pad:u16 flags:u16 lower:u16 upper:u16 body
 *               (an overflow page's lower and upper are its page count, u32; page 0 and 1 are metas)
 *   meta     := magic:u32 version:u32 address:u64 mapsize:u64 db[2] lastPage:u64 txnid:u64
 *   db       := pad:u32 flags:u16 depth:u16 branch:u64 leaf:u64 overflow:u64 entries:u64 root:u64
 *               (48 bytes; db[0] is the free-page tree and its pad holds the page size, db[1] the
 *               main tree; root all ones = an empty tree)
 *   body     := ptr:u16[lower / 2] ... node at 24 + ptr
 *   node     := lo:u16 hi:u16 flags:u16 keySize:u16 key data
 *               (branch: child page = lo | hi << 16 | flags << 32; leaf: data size = lo | hi << 16,
 *               flags 1 = data is an overflow run's first page u64, of (23 + size) / pageSize + 1
 *               pages, flags 2 = data is a named database's db)
 *
 * An empty file (never initialised) is the only one left to LMDB unchecked.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { CorruptionError } from '../errors.js';

/** LMDB_MAGIC is LMDB's meta page magic. */
const LMDB_MAGIC = 0xbeefc0de;
/** PAGE_HEADER is the size of a page header; the meta fields and the node pointers follow it. */
const PAGE_HEADER = 24;
const FLAGS_IN_PAGE = 18;
const LOWER_IN_PAGE = 20;
const DB_AT = PAGE_HEADER + 24;
const DB_BYTES = 48;
const FLAGS_IN_DB = 4;
const DEPTH_IN_DB = 6;
const OVERFLOW_IN_DB = 24;
const ROOT_IN_DB = 40;
/** MDB_DUPSORT marks a database whose leaves may hold trees of duplicates. */
const MDB_DUPSORT = 0x04;
const LAST_PAGE_AT = DB_AT + 2 * DB_BYTES;
const TXNID_AT = LAST_PAGE_AT + 8;
const META_BYTES = TXNID_AT + 8;
/** NO_PAGE is LMDB's P_INVALID, the root of an empty tree. */
const NO_PAGE = 0xffffffffffffffffn;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_LEAF2 = 0x20;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
const NODE_HEADER = 8;
const MDB_OVERLAPPINGSYNC = 0x1000;
/** READ_BYTES bounds one read of the walk. */
const READ_BYTES = 1 << 20;

/** MetaPage is what the check reads of one meta page. */
interface MetaPage {
  pageSize: number;
  txnid: bigint;
  /** lastPage is the highest page number the meta's snapshot may use (LMDB reads none above it). */
  lastPage: bigint;
  /** unflushed: written by an overlappingSync commit not yet known durable (its MDB_OVERLAPPINGSYNC flag). */
  unflushed: boolean;
  /** trees: the free-page and main trees' pages to start a walk from. */
  trees: TreePage[];
}

/** readMeta reads the meta at `at`, a meta page's (checked: LMDB refuses a file without them) or the flushed snapshot's. */
function readMeta(fd: number, at: number, checked = true): MetaPage | undefined {
  const b = Buffer.alloc(META_BYTES);
  if (readSync(fd, b, 0, META_BYTES, at) !== META_BYTES) return undefined;
  if (checked && b.readUInt32LE(PAGE_HEADER) !== LMDB_MAGIC) return undefined;
  const pageSize = b.readUInt32LE(DB_AT);
  if (checked && (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)) return undefined;
  return {
    pageSize,
    txnid: b.readBigUInt64LE(TXNID_AT),
    lastPage: b.readBigUInt64LE(LAST_PAGE_AT),
    unflushed: (b.readUInt16LE(DB_AT + 4) & MDB_OVERLAPPINGSYNC) !== 0,
    trees: [...rootOf(b, DB_AT, false), ...rootOf(b, DB_AT + DB_BYTES, true)],
  };
}

/**
 * pickMeta is lmdb-js's mdb_pick_meta with MDB_PREVSNAPSHOT (set with overlappingSync): the newer
 * of two metas, unless it is unflushed and was written in another boot (after a power loss) or
 * LMDB_RESTORE=safe, then the older. `sameBoot` stands for that comparison, which the check does
 * not make: it accepts a file when either answer leads to a meta whose pages are all there.
 */
function pickMeta(a: MetaPage, b: MetaPage, sameBoot: boolean): MetaPage {
  if (b.txnid === 0n) return a;
  const newer = a.txnid >= b.txnid ? a : b;
  if (sameBoot || !newer.unflushed) return newer;
  return a.txnid > b.txnid ? b : a;
}

/** metasLmdbMayOpen lists the metas LMDB may open the file at (mdb_env_pick_meta). */
function metasLmdbMayOpen(first: MetaPage, second: MetaPage, flushed: MetaPage | undefined): MetaPage[] {
  const newer = second.txnid > first.txnid ? second : first;
  if (flushed === undefined) return [newer];
  return [true, false].map((sameBoot) => pickMeta(pickMeta(first, second, sameBoot), flushed, sameBoot));
}

/** PageFile is an open data file of `pages` whole pages. */
interface PageFile {
  fd: number;
  pageSize: number;
  pages: number;
}

/**
 * TreePage is a page of a tree to walk: its number, and whether the walk reads its tree's leaves
 * or else its level (`depth`, 1 = a leaf; its leaves are looked for, not read).
 */
interface TreePage {
  pgno: number;
  leaves: boolean;
  depth: number;
}

/**
 * rootOf is the root of the tree whose db record is at `at` in `b`, or none for an empty tree. Its
 * leaves are read only where they can link to pages: in the main tree (the named databases'
 * records), a tree with overflow pages, or one of duplicates.
 */
function rootOf(b: Buffer, at: number, isMain: boolean): TreePage[] {
  const root = b.readBigUInt64LE(at + ROOT_IN_DB);
  if (root === NO_PAGE) return [];
  const leaves =
    isMain ||
    b.readBigUInt64LE(at + OVERFLOW_IN_DB) > 0n ||
    (b.readUInt16LE(at + FLAGS_IN_DB) & MDB_DUPSORT) !== 0;
  return [{ pgno: Number(root), leaves, depth: b.readUInt16LE(at + DEPTH_IN_DB) }];
}

/**
 * missingPage walks the trees from `roots`, level by level, and returns the first page one of them
 * uses that lies past the file's end (an overflow run's first missing page), or undefined.
 */
function missingPage(f: PageFile, roots: TreePage[]): number | undefined {
  const seen = new Uint8Array(Math.ceil(f.pages / 8));
  const chunk = Buffer.allocUnsafe(Math.max(READ_BYTES, f.pageSize));
  const chunkPages = chunk.length / f.pageSize;
  let level = roots;
  while (level.length > 0) {
    const wanted: TreePage[] = [];
    for (const page of level.sort((a, b) => a.pgno - b.pgno)) {
      const { pgno } = page;
      if (pgno >= f.pages) return pgno;
      if ((seen[pgno >> 3]! & (1 << (pgno & 7))) !== 0) continue;
      seen[pgno >> 3]! |= 1 << (pgno & 7);
      if (page.leaves || page.depth > 1) wanted.push(page);
    }
    const next: TreePage[] = [];
    for (let i = 0; i < wanted.length;) {
      // One read spans the run of consecutive wanted pages from wanted[i] that fits the chunk
      // (spanning gaps too read more overflow pages than it saved reads, on a level of 4 KiB values).
      const first = wanted[i]!.pgno;
      let j = i + 1;
      while (
        j < wanted.length &&
        wanted[j]!.pgno === wanted[j - 1]!.pgno + 1 &&
        wanted[j]!.pgno < first + chunkPages
      )
        j++;
      const span = wanted[j - 1]!.pgno - first + 1;
      readSync(f.fd, chunk, 0, span * f.pageSize, first * f.pageSize);
      for (let k = i; k < j; k++) {
        const missing = linksOf(f, chunk, (wanted[k]!.pgno - first) * f.pageSize, wanted[k]!, next);
        if (missing !== undefined) return missing;
      }
      i = j;
    }
    level = next;
  }
  return undefined;
}

/**
 * linksOf adds to `next` the pages that `page`, at `at` in `b`, links to (a branch page's children, the
 * roots of the named databases a leaf holds), and returns the first page it links to that lies
 * past the file's end (an unread leaf, or an overflow run's first missing page), or undefined.
 */
function linksOf(f: PageFile, b: Buffer, at: number, page: TreePage, next: TreePage[]): number | undefined {
  const flags = b.readUInt16LE(at + FLAGS_IN_PAGE);
  const isBranch = (flags & P_BRANCH) !== 0;
  if (!isBranch && ((flags & P_LEAF) === 0 || (flags & P_LEAF2) !== 0)) return undefined;
  const count = b.readUInt16LE(at + LOWER_IN_PAGE) >> 1;
  for (let i = 0; i < count && PAGE_HEADER + 2 * i + 2 <= f.pageSize; i++) {
    const node = at + PAGE_HEADER + b.readUInt16LE(at + PAGE_HEADER + 2 * i);
    if (node + NODE_HEADER > at + f.pageSize) continue;
    const nodeFlags = b.readUInt16LE(node + 4);
    if (isBranch) {
      const child = b.readUInt32LE(node) + nodeFlags * 2 ** 32;
      // A leaf that is not read is only looked for, here: no need to queue it.
      if (page.leaves || page.depth > 2)
        next.push({ pgno: child, leaves: page.leaves, depth: page.depth - 1 });
      else if (child >= f.pages) return child;
      continue;
    }
    const data = node + NODE_HEADER + b.readUInt16LE(node + 6);
    if ((nodeFlags & F_BIGDATA) !== 0 && data + 8 <= at + f.pageSize) {
      const first = b.readUInt32LE(data) + b.readUInt32LE(data + 4) * 2 ** 32;
      const pages = Math.floor((PAGE_HEADER - 1 + b.readUInt32LE(node)) / f.pageSize) + 1;
      if (first + pages > f.pages) return Math.max(first, f.pages);
    } else if ((nodeFlags & F_SUBDATA) !== 0 && data + DB_BYTES <= at + f.pageSize) {
      next.push(...rootOf(b, data, false));
    }
  }
  return undefined;
}

/**
 * checkLmdbFile throws a CorruptionError when LMDB data file `path` has a damaged meta page or
 * links to a page past its end from the meta LMDB will open it at; `overlappingSync` is how it is
 * about to be opened (lmdb-js then reads a third meta, the last flushed one).
 */
export function checkLmdbFile(path: string, overlappingSync: boolean): void {
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
    const flushed = overlappingSync ? readMeta(fd, first.pageSize / 2, false) : undefined;
    const f: PageFile = { fd, pageSize: first.pageSize, pages: Math.floor(size / first.pageSize) };
    let missing: { page: number; txnid: bigint } | undefined;
    for (const meta of metasLmdbMayOpen(first, second, flushed)) {
      if (BigInt(f.pages) > meta.lastPage) return;
      const page = missingPage(f, meta.trees);
      if (page === undefined) return;
      missing ??= { page, txnid: meta.txnid };
    }
    if (missing === undefined) return;
    throw new CorruptionError(
      path,
      size,
      `LMDB data file ends at ${size} bytes, before page ${missing.page} (bytes up to ${(missing.page + 1) * first.pageSize}) that its meta (txn ${missing.txnid}) links to (the file was cut short)`,
    );
  } finally {
    closeSync(fd);
  }
}
