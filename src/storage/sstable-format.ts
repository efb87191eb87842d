/**
 * The SSTable run format: one immutable file `runs/NNNNNN.sst` per flushed memtable, keys sorted
 * by bytes, newest-first precedence between runs by run number. Integers are little-endian.
 *
 *   sstable := block* index bloom footer
 *   block   := entry* restarts                            (about BLOCK_BYTES; a key never spans blocks)
 *   entry   := keyLen:u16 flags:u8 seq:u64 valueLen:u32 key:keyLen value:valueLen
 *   flags   := FLAG_TOMBSTONE (bit 0) for a deleted key (valueLen = 0)
 *            | FLAG_EXPIRES (bit 1, version 4) when the value starts with expiresAtMs:u64 (Unix ms);
 *              valueLen counts those 8 bytes
 *   restarts := restart:u32[n] n:u32                      (version 3: offsets in the block of entry 0,
 *                                                          RESTART_INTERVAL, 2·RESTART_INTERVAL, ...)
 *   index   := count:u32 indexEntry*                      (one per block, in key order)
 *   indexEntry := keyLen:u16 firstKey:keyLen offset:u64 length:u32 crc:u32   (crc32c of the block)
 *   bloom   := see bloom.ts
 *   footer  := magic:u32 version:u8 reserved:u8[3] indexOffset:u64 indexLength:u32 indexCrc:u32
 *              bloomOffset:u64 bloomLength:u32 bloomCrc:u32 entries:u64 minSeq:u64 maxSeq:u64
 *              tombstones:u32 footerCrc:u32                (FOOTER_BYTES; footerCrc covers the bytes before it)
 *   tombstones := how many of the entries are FLAG_TOMBSTONE (capped at 2^32 - 1); 0 in runs written
 *              before it was counted (the bytes were reserved, written 0, and no reader looked at them)
 *
 * Version 2 blocks have no restarts (entries fill the block); readers still read them (a point
 * read then scans the block from its start). Version 3 has no FLAG_EXPIRES; readers still read it.
 * Runs are written as version 4.
 * A run is written to `NNNNNN.sst.tmp`, synced, then renamed: a `.sst` file is always complete.
 */

/** SST_MAGIC is "DKVS" as a little-endian u32. */
export const SST_MAGIC = 0x53564b44;
/** SST_VERSION is the format version written in the footer (4 = entries may carry an expiry). */
export const SST_VERSION = 4;
/** SST_VERSION_NO_EXPIRY is the older version still read: restart points, no expiries. */
export const SST_VERSION_NO_EXPIRY = 3;
/** SST_VERSION_NO_RESTARTS is the older version still read: blocks without restart points. */
export const SST_VERSION_NO_RESTARTS = 2;
/** RESTART_INTERVAL is the number of entries between restart points in a version 3 block. */
export const RESTART_INTERVAL = 4;
/** FOOTER_TOMBSTONES_AT is the offset of `tombstones` in the footer. */
export const FOOTER_TOMBSTONES_AT = 64;
/** FOOTER_BYTES is the fixed size of the footer. */
export const FOOTER_BYTES = 72;
/** BLOCK_BYTES is the target size of a data block. */
export const BLOCK_BYTES = 4096;
/** ENTRY_HEADER_BYTES is an entry's size before its key. */
export const ENTRY_HEADER_BYTES = 2 + 1 + 8 + 4;
/** FLAG_TOMBSTONE marks a deleted key. */
export const FLAG_TOMBSTONE = 1;
/** FLAG_EXPIRES marks a value that starts with its expiry, expiresAtMs:u64 (version 4). */
export const FLAG_EXPIRES = 2;
/** EXPIRY_BYTES is the size of an entry's expiry prefix. */
export const EXPIRY_BYTES = 8;
/** BLOOM_FP_RATE is the configured false-positive rate of run bloom filters. */
export const BLOOM_FP_RATE = 0.01;

/** runName returns the file name of run `no`. */
export function runName(no: number): string {
  return `${String(no).padStart(6, '0')}.sst`;
}

/** parseRunName returns the number of a run file name (six digits or more: runName pads to six), or undefined. */
export function parseRunName(name: string): number | undefined {
  const m = /^(\d{6,})\.sst$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Footer is a decoded footer. */
export interface Footer {
  indexOffset: number;
  indexLength: number;
  indexCrc: number;
  bloomOffset: number;
  bloomLength: number;
  bloomCrc: number;
  entries: number;
  minSeq: number;
  maxSeq: number;
  /** tombstones is how many of the entries are deletes (0 in a run written before they were counted). */
  tombstones: number;
}
