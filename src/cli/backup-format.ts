/**
 * The backup file written by `distkv backup` and read by `distkv restore` (docs/backup-format.md
 * mirrors this; docs/operations.md, "Backup and restore"). Integers are little-endian.
 *
 *   backup  := magic:u32 version:u8 reserved:u8[3] section* end
 *   section := TAG_SHARD:u8 idx:u32 consistent:u8 snapshot
 *   snapshot:= one shard's snapshot stream exactly as src/replication/snapshot-format.ts defines it
 *              (its header carries the seq S the shard's state was copied at; its entries end with
 *              keyLen = 0, then exactSeq and, from snapshot version 4, the stream's own crc32c,
 *              checked by backup as the stream comes and by restore with the rest of the parse)
 *   end     := TAG_END:u8 metaLen:u32 meta:metaLen crc:u32
 *   meta    := UTF-8 JSON BackupMeta (when, from where, the topology version, per shard: name, seq,
 *              keys, consistent); its shards are the file's sections, one each with `keys`
 *              entries (read back by decodeMetaShards, checked by backup-sections.ts)
 *   crc     := crc32c of every byte of the file before it
 *
 * `consistent` = 1 when the shard's leader wrote nothing while its snapshot streamed but its own
 * expire records (backup.ts, `heldStill`), so the section is exactly the shard's state at seq S
 * (a key whose expiry passed during the copy may be absent: a restore skips it either way); 0 when
 * writes went on (each key then holds a value it had
 * at some instant of the copy). The file is written to FILE.partial and renamed when complete, so a
 * file named FILE is always whole; restore checks the crc before it writes anything.
 */
import { crc32c } from '../storage/crc32c.js';

/** BACKUP_MAGIC is "DKVB" as a little-endian u32. */
export const BACKUP_MAGIC = 0x42564b44;
/** BACKUP_VERSION is the format version byte. */
export const BACKUP_VERSION = 1;
/** BACKUP_HEADER_BYTES is the size of magic, version and reserved bytes. */
export const BACKUP_HEADER_BYTES = 8;
/** TAG_SHARD starts a shard section. */
export const TAG_SHARD = 1;
/** TAG_END starts the end of the file. */
export const TAG_END = 2;
/** SECTION_HEADER_BYTES is the size of a section before its snapshot (tag, idx, consistent). */
export const SECTION_HEADER_BYTES = 6;

/** BackupShardMeta describes one shard of a backup. */
export interface BackupShardMeta {
  idx: number;
  name: string;
  seq: number;
  keys: number;
  consistent: boolean;
}

/** BackupMeta is the JSON at the end of a backup. */
export interface BackupMeta {
  created: string;
  source: string;
  topology: string;
  shards: BackupShardMeta[];
}

/**
 * ListedShard is a shard as a backup's meta lists it, as far as a reader can tell: a field of
 * another type than BackupShardMeta's is left out (not compared), so a meta of another shape
 * still reads (docs/backup-format.md, "The summary").
 */
export interface ListedShard {
  idx: number;
  name?: string;
  keys?: number;
  consistent?: boolean;
}

/**
 * decodeMetaShards returns the shards a backup's meta lists, or undefined when it lists none a
 * reader can use (no `shards` array, or an element without a whole `idx`): every release wrote
 * BackupMeta, but the list is checked against the sections only when it has that shape. Throws
 * when the meta is not UTF-8 JSON of an object (no release wrote that).
 */
export function decodeMetaShards(meta: Uint8Array): ListedShard[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength).toString('utf8'));
  } catch {
    throw new Error('its summary (the JSON at its end) is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new Error('its summary (the JSON at its end) is not a JSON object');
  const shards = (doc as { shards?: unknown }).shards;
  if (!Array.isArray(shards)) return undefined;
  const out: ListedShard[] = [];
  for (const s of shards as unknown[]) {
    if (typeof s !== 'object' || s === null) return undefined;
    const { idx, name, keys, consistent } = s as Record<string, unknown>;
    if (!isCount(idx)) return undefined;
    out.push({
      idx,
      ...(typeof name === 'string' ? { name } : {}),
      ...(isCount(keys) ? { keys } : {}),
      ...(typeof consistent === 'boolean' ? { consistent } : {}),
    });
  }
  return out;
}

/** isCount tells whether `n` is a whole number ≥ 0. */
function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** encodeBackupHeader returns the file header. */
export function encodeBackupHeader(): Buffer {
  const b = Buffer.alloc(BACKUP_HEADER_BYTES);
  b.writeUInt32LE(BACKUP_MAGIC, 0);
  b[4] = BACKUP_VERSION;
  return b;
}

/** checkBackupMagic throws unless `b` starts with the backup magic (any version). */
export function checkBackupMagic(b: Uint8Array): void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 4 || buf.readUInt32LE(0) !== BACKUP_MAGIC)
    throw new Error(
      'it is not a distkv backup (it does not start with "DKVB"; a file of JSON lines is for distkv load)',
    );
}

/** checkBackupHeader throws unless `b` starts with a backup header of this version. */
export function checkBackupHeader(b: Uint8Array): void {
  checkBackupMagic(b);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < BACKUP_HEADER_BYTES) throw new Error('the file ends in its header');
  if (buf[4] !== BACKUP_VERSION)
    throw new Error(`backup format version ${buf[4]} is not supported (this distkv reads ${BACKUP_VERSION})`);
}

/** encodeSectionHeader returns the bytes before a shard's snapshot. */
export function encodeSectionHeader(idx: number, consistent: boolean): Buffer {
  const b = Buffer.alloc(SECTION_HEADER_BYTES);
  b[0] = TAG_SHARD;
  b.writeUInt32LE(idx, 1);
  b[5] = consistent ? 1 : 0;
  return b;
}

/** encodeEnd returns the end of the file before its crc (the tag and the meta). */
export function encodeEnd(meta: BackupMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const b = Buffer.alloc(5 + json.length);
  b[0] = TAG_END;
  b.writeUInt32LE(json.length, 1);
  json.copy(b, 5);
  return b;
}

/** Crc accumulates crc32c over chunks. */
export class Crc {
  value = 0;

  /** add feeds `bytes`. */
  add(bytes: Uint8Array): void {
    this.value = crc32c(bytes, 0, bytes.length, this.value);
  }
}
