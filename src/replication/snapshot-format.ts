/**
 * The snapshot stream a leader sends a replica that fell behind the retained log
 * (`GET /_repl/snapshot?shard=I`), and the body of each shard section of a backup file
 * (src/cli/backup-format.ts). Integers are little-endian.
 *
 *   snapshot := magic:u32 version:u8 reserved:u8[3] seq:u64 entry* end
 *   entry    := keyLen:u16 valueLen:u32 seq:u64 expiresAtMs:u64 key:keyLen value:valueLen
 *               (keyLen ≥ 1; version 2 entries have no seq and expiresAtMs)
 *   end      := keyLen:u16 = 0 exactSeq:u64 crc:u32
 *               (versions 2 and 3 end at exactSeq, with no crc)
 *   crc      := crc32c (src/storage/crc32c.ts) of every byte of the stream before it, from magic
 *               through exactSeq
 *
 * The crc (version 4) is what lets a replica refuse a snapshot a bit of which changed on the way
 * (a bad NIC, a proxy, a bug), as it refuses a pulled record whose crc fails: one crc over the
 * whole stream, at its end, costs 4 bytes and one pass over the bytes on each side (about 1.5 s of
 * CPU per GiB here; a crc per entry costs the same pass plus 4 bytes and a call per entry, 3% more
 * bytes for 100-byte values). It comes after entries already loaded, but before the replica claims
 * any position: a snapshot is not the replica's until its end was read (snapshot-load.ts), and
 * until then it serves nothing (resyncing-store.ts) and acks 0; one whose crc fails is refused
 * whole and the resync tried again. The leader's worker computes it over the pages it encodes,
 * from the header of the page's seq on (replication-messages.ts), and the front door over exactSeq
 * (src/http/snapshot-route.ts); the main thread does not pass over the entries' bytes.
 *
 * Each entry carries the seq of the write that set the key (its version, as `ETag` shows it) and
 * its expiry (Unix ms, 0 = never), so a replica rebuilt from a snapshot answers the same versions
 * as its leader and hides an expiring key by its own clock at the same instant, without waiting
 * for the leader's expire record (docs/api.md, "TTL"). Version 2 (before TTLs and versions) is
 * still read, from old backup files: its entries take the snapshot's seq and never expire.
 *
 * The snapshot is fuzzy: it starts at seq S (the leader's last seq when it began) and is read in
 * chunks while writes go on, so an entry may already hold a value written after S, up to exactSeq
 * (a seq at or after the leader's last one when the last entry was read). The replica then pulls
 * the log from S: once it has replayed the writes through exactSeq, in order, it holds exactly the
 * leader's state at exactSeq, because every record sets or deletes a whole key. Before that its
 * content may mix states the leader never had at one seq, so it does not claim a position yet.
 * (The leader's worker writes the entries and the 0 key length; the front door appends exactSeq,
 * read after the last page, and the crc.)
 */
import { HARD_MAX_VALUE_BYTES } from '../config/schema.js';
import { crc32c } from '../storage/crc32c.js';

/** SNAPSHOT_MAGIC is "DKVP" as a little-endian u32. */
export const SNAPSHOT_MAGIC = 0x50564b44;
/** SNAPSHOT_VERSION is the format version written. */
export const SNAPSHOT_VERSION = 4;
/**
 * SNAPSHOT_VERSIONS_READ are the versions a decoder accepts: 2 and 3 from backup files of older
 * builds, and from a leader of an older build while replicas are upgraded first
 * (docs/operations.md, "Upgrades"); those carry no crc.
 */
const SNAPSHOT_VERSIONS_READ = new Set([2, 3, 4]);
/** SNAPSHOT_HEADER_BYTES is the size of the header. */
export const SNAPSHOT_HEADER_BYTES = 16;
/** SNAPSHOT_EXACT_SEQ_BYTES is the size of the exactSeq that follows the end marker. */
export const SNAPSHOT_EXACT_SEQ_BYTES = 8;
/** SNAPSHOT_CRC_BYTES is the size of the crc that closes a version 4 stream, after exactSeq. */
export const SNAPSHOT_CRC_BYTES = 4;

/** hasSnapshotCrc says whether a stream of `version` ends with a crc. */
export function hasSnapshotCrc(version: number): boolean {
  return version >= 4;
}

/** snapshotCrc continues a stream's crc (0 to start) over `bytes`. */
export function snapshotCrc(bytes: Uint8Array, crc: number): number {
  return crc32c(bytes, 0, bytes.length, crc);
}

/** SnapshotItem is one decoded entry; `seq` and `expiresAtMs` are absent in a version 2 stream. */
export interface SnapshotItem {
  key: Buffer;
  value: Buffer;
  seq?: number;
  expiresAtMs?: number;
}

/** entryHeadBytes is the size of an entry before its key in `version`. */
export function entryHeadBytes(version: number): number {
  return version >= 3 ? 22 : 6;
}

function writeU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % 0x100000000, at);
  b.writeUInt32LE(Math.floor(v / 0x100000000), at + 4);
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x100000000;
}

/** encodeSnapshotHeader returns the header for a snapshot at `seq`. */
export function encodeSnapshotHeader(seq: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  b.writeUInt32LE(SNAPSHOT_MAGIC, 0);
  b[4] = SNAPSHOT_VERSION;
  writeU64(b, seq, 8);
  return b;
}

/**
 * checkSnapshotHeader returns the seq and version of a snapshot header; throws when `b` is not one
 * this build reads.
 */
export function checkSnapshotHeader(b: Buffer): { seq: number; version: number } {
  if (b.length < SNAPSHOT_HEADER_BYTES || b.readUInt32LE(0) !== SNAPSHOT_MAGIC)
    throw new Error('not a distkv snapshot (bad magic)');
  const version = b[4]!;
  if (!SNAPSHOT_VERSIONS_READ.has(version))
    throw new Error(`distkv snapshot version ${version}: this build reads versions 2, 3 and 4`);
  const seq = readU64(b, 8);
  if (!Number.isSafeInteger(seq)) throw new Error(`distkv snapshot: its seq ${seq} is past 2^53 (not a seq)`);
  return { seq, version };
}

/** decodeEntryHead reads an entry's head in `version` at `at` (its key length is not 0). */
export function decodeEntryHead(
  b: Buffer,
  at: number,
  version: number,
): { keyLen: number; valueLen: number; seq?: number; expiresAtMs?: number } {
  const keyLen = b.readUInt16LE(at);
  const valueLen = b.readUInt32LE(at + 2);
  return version >= 3
    ? { keyLen, valueLen, seq: readU64(b, at + 6), expiresAtMs: readU64(b, at + 14) }
    : { keyLen, valueLen };
}

/** encodeSnapshotEntries encodes entries (and the end marker when `last`); a missing seq or expiry is 0. */
export function encodeSnapshotEntries(
  entries: readonly { key: Uint8Array; value: Uint8Array; seq?: number; expiresAtMs?: number }[],
  last: boolean,
): Buffer {
  const head = entryHeadBytes(SNAPSHOT_VERSION);
  let size = last ? 2 : 0;
  for (const e of entries) size += head + e.key.length + e.value.length;
  const b = Buffer.alloc(size);
  let p = 0;
  for (const e of entries) {
    b.writeUInt16LE(e.key.length, p);
    b.writeUInt32LE(e.value.length, p + 2);
    writeU64(b, e.seq ?? 0, p + 6);
    writeU64(b, e.expiresAtMs ?? 0, p + 14);
    b.set(e.key, p + head);
    b.set(e.value, p + head + e.key.length);
    p += head + e.key.length + e.value.length;
  }
  if (last) b.writeUInt16LE(0, p);
  return b;
}

/** encodeSnapshotExactSeq returns the exactSeq that follows a snapshot's end marker. */
export function encodeSnapshotExactSeq(seq: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_EXACT_SEQ_BYTES);
  writeU64(b, seq, 0);
  return b;
}

/**
 * encodeSnapshotEnd returns what closes a snapshot after its end marker: exactSeq and the crc of
 * the stream, continued from `crc` (that of every byte before exactSeq) over exactSeq.
 */
export function encodeSnapshotEnd(exactSeq: number, crc: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_EXACT_SEQ_BYTES + SNAPSHOT_CRC_BYTES);
  writeU64(b, exactSeq, 0);
  b.writeUInt32LE(crc32c(b, 0, SNAPSHOT_EXACT_SEQ_BYTES, crc), SNAPSHOT_EXACT_SEQ_BYTES);
  return b;
}

/**
 * SnapshotDecoder parses a snapshot stream fed in arbitrary chunks (an HTTP body's, a backup
 * file's). It copies each byte at most twice: chunks wait in a list until they hold the next whole
 * entry (or header, or end), and are then joined once; the unparsed tail of a join is joined once
 * more with the chunks that finish it. (Joining every chunk onto what was pending, as before,
 * copied a value that spans n chunks about n/2 times: a 1 MiB value in 64 KiB chunks, 8 times.)
 * The returned keys and values are views of the chunks or of the join, never reused by the decoder.
 */
export class SnapshotDecoder {
  seq: number | undefined;
  /** version is the stream's format version, once its header is read. */
  version = 0;
  /** exactSeq is set with `done`: from that seq on, the loaded snapshot plus the log is exact. */
  exactSeq: number | undefined;
  done = false;
  /** crc is the crc32c of the bytes parsed so far (version 4; 0 for the others, which have none). */
  private crc = 0;
  /** parsed counts the bytes parsed so far, for the message of a crc that fails. */
  private parsed = 0;
  /** pending are the chunks not parsed yet, in order (the first may be the tail of a join). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** need is how many pending bytes the next step (header, entry head, entry or end) needs at least. */
  private need = SNAPSHOT_HEADER_BYTES;

  /** push adds bytes and returns the complete entries they finish. Throws on a malformed stream. */
  push(chunk: Buffer): SnapshotItem[] {
    if (this.done) return [];
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    if (this.pendingBytes < this.need) return [];
    const b = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const out: SnapshotItem[] = [];
    const p = this.parse(b, out);
    const rest = b.subarray(p);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }

  /** parse reads what `b` holds whole into `out`, sets `need` for what follows, and returns where it stopped. */
  private parse(b: Buffer, out: SnapshotItem[]): number {
    let p = 0;
    if (this.seq === undefined) {
      const h = checkSnapshotHeader(b);
      this.seq = h.seq;
      this.version = h.version;
      p = SNAPSHOT_HEADER_BYTES;
    }
    const head = entryHeadBytes(this.version);
    for (;;) {
      if (p + 2 > b.length) return this.stop(b, p, 2);
      if (b.readUInt16LE(p) === 0) {
        const crcAt = p + 2 + SNAPSHOT_EXACT_SEQ_BYTES;
        const end = crcAt - p + (hasSnapshotCrc(this.version) ? SNAPSHOT_CRC_BYTES : 0);
        if (p + end > b.length) return this.stop(b, p, end);
        if (hasSnapshotCrc(this.version)) this.checkCrc(b, crcAt);
        const exactSeq = readU64(b, p + 2);
        if (!Number.isSafeInteger(exactSeq))
          throw new Error(`distkv snapshot: its exactSeq ${exactSeq} is past 2^53 (not a seq)`);
        this.exactSeq = exactSeq;
        this.done = true;
        return p + end;
      }
      if (p + head > b.length) return this.stop(b, p, head);
      const e = decodeEntryHead(b, p, this.version);
      // Checked before waiting for the entry's bytes: a length of up to 4 GiB from a broken or
      // hostile leader (or a damaged backup file) would otherwise be gathered until it came.
      if (e.valueLen > HARD_MAX_VALUE_BYTES)
        throw new Error(
          `distkv snapshot: an entry's value length ${e.valueLen} is over the ${HARD_MAX_VALUE_BYTES} bytes a value can be (a damaged or foreign stream)`,
        );
      if (e.seq !== undefined && !Number.isSafeInteger(e.seq))
        throw new Error(
          `distkv snapshot: an entry's seq ${e.seq} is past 2^53 (a damaged or foreign stream)`,
        );
      const size = head + e.keyLen + e.valueLen;
      if (p + size > b.length) return this.stop(b, p, size);
      const key = b.subarray(p + head, p + head + e.keyLen);
      const value = b.subarray(p + head + e.keyLen, p + size);
      out.push(
        e.seq === undefined ? { key, value } : { key, value, seq: e.seq, expiresAtMs: e.expiresAtMs ?? 0 },
      );
      p += size;
    }
  }

  /**
   * checkCrc throws unless the crc at `crcAt` in `b` is that of the stream's bytes before it (the
   * bytes parsed before `b`, then `b` up to `crcAt`).
   */
  private checkCrc(b: Buffer, crcAt: number): void {
    const crc = crc32c(b, 0, crcAt, this.crc);
    const sent = b.readUInt32LE(crcAt);
    if (crc !== sent)
      throw new Error(
        `distkv snapshot: its crc32c ${sent.toString(16)} does not match its ${this.parsed + crcAt} bytes (crc32c ${crc.toString(16)}): a bit changed on the way (a bad NIC, a proxy, a broken leader) or in its file, so none of it is used`,
      );
  }

  /** stop records that the next step needs `need` bytes from `p` on (the bytes before it in `b` parsed), and returns `p`. */
  private stop(b: Buffer, p: number, need: number): number {
    if (hasSnapshotCrc(this.version)) this.crc = crc32c(b, 0, p, this.crc);
    this.parsed += p;
    this.need = need;
    return p;
  }
}
