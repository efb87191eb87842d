/**
 * Reading and writing a backup file (backup-format.ts) on disk: FileSink appends at tracked
 * positions (so a shard's section can be cut off and copied again), appendCrc closes a written file
 * with the crc of everything before it, checkCrc verifies that crc, and readEntries parses a whole
 * file, section by section, into its entries and checks its sections against its summary
 * (backup-sections.ts). Reading never trusts the file: a length that runs
 * past its end, an unknown tag or a file that shrinks while it is read is an error, not a hang.
 */
import type { FileHandle } from 'node:fs/promises';
import {
  checkSnapshotHeader,
  decodeEntryHead,
  entryHeadBytes,
  hasSnapshotCrc,
  SNAPSHOT_CRC_BYTES,
  SNAPSHOT_EXACT_SEQ_BYTES,
  SNAPSHOT_HEADER_BYTES,
  snapshotCrc,
} from '../replication/snapshot-format.js';
import {
  BACKUP_HEADER_BYTES,
  checkBackupHeader,
  checkBackupMagic,
  Crc,
  decodeMetaShards,
  type ListedShard,
  SECTION_HEADER_BYTES,
  TAG_END,
  TAG_SHARD,
} from './backup-format.js';
import { checkSections, type SectionRead } from './backup-sections.js';
import { writeAll } from '../util/write-all.js';

const READ_CHUNK = 1024 * 1024;
const ENDS_EARLY = 'the file ends in the middle of a record';

/**
 * FileSink appends to a file at tracked positions, so a shard's section can be cut off and
 * rewritten. Every write, cut and sync that fails (a full disk, a file size limit) throws what
 * `failed` makes of the file system's error, so the command can name its file and say what is left.
 */
export class FileSink {
  position = 0;
  private readonly fh: FileHandle;
  private readonly failed: (err: unknown) => Error;

  constructor(fh: FileHandle, failed: (err: unknown) => Error) {
    this.fh = fh;
    this.failed = failed;
  }

  /** write appends `bytes` at the position. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.writeAt(bytes, this.position);
    this.position += bytes.length;
  }

  /**
   * writeAt writes `bytes` at `at`, over what is there, leaving the position alone. A short write
   * (the disk filled, a size limit reached) is continued, and a write that took nothing without an
   * error is ENOSPC (src/util/write-all.ts). Taken as whole, the last one (the crc) would leave a
   * file cut short under a name that says it is complete.
   */
  async writeAt(bytes: Uint8Array, at: number): Promise<void> {
    const write = async (offset: number, length: number, position: number): Promise<number> =>
      (await this.fh.write(bytes, offset, length, position)).bytesWritten;
    await writeAll(write, bytes.length, at).catch((err: unknown) => {
      throw this.failed(err);
    });
  }

  /** cut drops everything from `position` on. */
  async cut(position: number): Promise<void> {
    await this.fh.truncate(position).catch((err: unknown) => {
      throw this.failed(err);
    });
    this.position = position;
  }

  /** sync makes everything written durable (fsync). */
  async sync(): Promise<void> {
    await this.fh.sync().catch((err: unknown) => {
      throw this.failed(err);
    });
  }
}

/** crcOf returns the crc32c of the first `length` bytes of `fh`; throws if it has fewer. */
async function crcOf(fh: FileHandle, length: number): Promise<number> {
  const crc = new Crc();
  const buf = Buffer.alloc(READ_CHUNK);
  for (let at = 0; at < length;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, length - at), at);
    // A file cut short while it is read would otherwise read 0 bytes here for ever.
    if (bytesRead === 0) throw new Error(ENDS_EARLY);
    crc.add(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return crc.value;
}

/** appendCrc reads the file back and appends the crc32c of everything in it. */
export async function appendCrc(fh: FileHandle, sink: FileSink): Promise<void> {
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(await crcOf(fh, sink.position), 0);
  await sink.write(tail);
}

/**
 * EMPTY_FILE says why an empty file is no backup, and what to restore instead: it was told "it
 * does not start with DKVB; a file of JSON lines is for distkv load", a command for another file.
 */
const EMPTY_FILE =
  'the file is empty (0 bytes), so it is no backup (distkv backup never leaves one empty: it writes its file only once complete): restore the file a backup wrote, or make one with distkv backup';

/**
 * checkCrc verifies the crc at the end of a backup file of `size` bytes. An empty file, then a
 * file that does not start with the backup magic, is named as no backup first: any other file (a
 * JSON lines dump, a config) used to be called "damaged or incomplete" by its checksum.
 */
export async function checkCrc(fh: FileHandle, size: number): Promise<void> {
  if (size === 0) throw new Error(EMPTY_FILE);
  const magic = Buffer.alloc(4);
  const { bytesRead: magicBytes } = await fh.read(magic, 0, 4, 0);
  checkBackupMagic(magic.subarray(0, magicBytes));
  if (size < BACKUP_HEADER_BYTES + 4) throw new Error('the file is too short to be a backup');
  const body = size - 4;
  const crc = await crcOf(fh, body);
  const tail = Buffer.alloc(4);
  const { bytesRead } = await fh.read(tail, 0, 4, body);
  if (bytesRead !== 4 || tail.readUInt32LE(0) !== crc)
    throw new Error('the checksum does not match: the file is damaged or incomplete');
}

/** FileSource reads a file sequentially in exact-size pieces. */
class FileSource {
  private buf = Buffer.alloc(0);
  private at = 0;
  private readonly fh: FileHandle;
  private readonly end: number;

  constructor(fh: FileHandle, end: number) {
    this.fh = fh;
    this.end = end;
  }

  /** left is how many bytes are still to take. */
  left(): number {
    return this.buf.length + this.end - this.at;
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.at >= this.end) throw new Error(ENDS_EARLY);
      const chunk = Buffer.alloc(Math.min(Math.max(READ_CHUNK, n), this.end - this.at));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.at);
      if (bytesRead === 0) throw new Error(ENDS_EARLY);
      this.at += bytesRead;
      this.buf =
        this.buf.length === 0
          ? chunk.subarray(0, bytesRead)
          : Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

/** BackupEntry is one key of a backup: its exact bytes, its value and its expiry (Unix ms, 0 = never). */
export interface BackupEntry {
  key: Buffer;
  value: Buffer;
  expiresAtMs: number;
}

/** BackupContents is what a whole read of a backup found besides its entries. */
export interface BackupContents {
  /** sections are the file's shard sections in file order. */
  sections: SectionRead[];
  /** listed is the shards its summary lists (undefined: a summary without a usable list). */
  listed: ListedShard[] | undefined;
}

/**
 * readEntries parses a backup of `size` bytes (header, shard sections, end) and calls `onEntry` for
 * each key in file order; throws on a malformed file. Each section's snapshot ends with its key
 * length 0 and exactSeq, then (snapshot version 4) its crc, which is checked: the file's own crc
 * says the file holds what the backup wrote, the snapshot's that the backup wrote what its leader
 * sent (src/replication/snapshot-format.ts). The end's summary is read to the file's crc, and the
 * sections are checked against the shards it lists (backup-sections.ts): it used to be left
 * unread, so a file lacking a shard's section restored the rest with exit 0. The key and value
 * are copies.
 */
export async function readEntries(
  fh: FileHandle,
  size: number,
  onEntry: (e: BackupEntry) => Promise<void>,
): Promise<BackupContents> {
  const src = new FileSource(fh, size - 4);
  checkBackupHeader(await src.take(BACKUP_HEADER_BYTES));
  const sections: SectionRead[] = [];
  for (;;) {
    const tag = (await src.take(1))[0];
    if (tag === TAG_END) break;
    if (tag !== TAG_SHARD) throw new Error(`unknown section tag ${tag}`);
    const head = await src.take(SECTION_HEADER_BYTES - 1);
    const section: SectionRead = { idx: head.readUInt32LE(0), consistent: head[4] === 1, keys: 0 };
    sections.push(section);
    await readSection(src, section, onEntry);
  }
  const metaLen = (await src.take(4)).readUInt32LE(0);
  if (metaLen > src.left()) throw new Error(ENDS_EARLY);
  const listed = decodeMetaShards(await src.take(metaLen));
  if (src.left() > 0)
    throw new Error(`it holds ${src.left()} bytes between its summary and its crc, where it ends`);
  checkSections(sections, listed);
  return { sections, listed };
}

/** readSection reads the snapshot of `section` from `src`, counting its entries into `section.keys`. */
async function readSection(
  src: FileSource,
  section: SectionRead,
  onEntry: (e: BackupEntry) => Promise<void>,
): Promise<void> {
  const header = await src.take(SNAPSHOT_HEADER_BYTES);
  const { version } = checkSnapshotHeader(header);
  // The crc of the section's snapshot (version 4), over every byte taken from its header on.
  let crc = hasSnapshotCrc(version) ? snapshotCrc(header, 0) : 0;
  const take = async (n: number): Promise<Buffer> => {
    const b = await src.take(n);
    if (hasSnapshotCrc(version)) crc = snapshotCrc(b, crc);
    return b;
  };
  const rest = entryHeadBytes(version) - 2;
  for (;;) {
    const keyLen = Buffer.from(await take(2));
    if (keyLen.readUInt16LE(0) === 0) break;
    const e = decodeEntryHead(Buffer.concat([keyLen, await take(rest)]), 0, version);
    const key = Buffer.from(await take(e.keyLen));
    section.keys++;
    await onEntry({ key, value: Buffer.from(await take(e.valueLen)), expiresAtMs: e.expiresAtMs ?? 0 });
  }
  await take(SNAPSHOT_EXACT_SEQ_BYTES);
  if (hasSnapshotCrc(version) && (await src.take(SNAPSHOT_CRC_BYTES)).readUInt32LE(0) !== crc)
    throw new Error(
      `the snapshot of shard ${section.idx} does not match its crc32c: it was damaged before the backup wrote it`,
    );
}
