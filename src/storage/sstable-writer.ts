/**
 * Writing an SSTable run from entries in key order (a frozen memtable). The file is built in
 * chunks, each appended with an await, so the worker keeps serving while a large run is written;
 * it is synced and renamed into place before `writeRun` resolves.
 */
import { join } from 'node:path';
import { KeyBloom } from './bloom.js';
import { crc32c } from './crc32c.js';
import type { Versioned } from './merge-iterator.js';
import {
  BLOCK_BYTES,
  BLOOM_FP_RATE,
  ENTRY_HEADER_BYTES,
  EXPIRY_BYTES,
  FLAG_EXPIRES,
  FLAG_TOMBSTONE,
  FOOTER_BYTES,
  FOOTER_TOMBSTONES_AT,
  RESTART_INTERVAL,
  runName,
  SST_MAGIC,
  SST_VERSION,
} from './sstable-format.js';
import type { Vfs } from './vfs.js';
import { writeU64 } from './wal-format.js';

const CHUNK_BYTES = 256 * 1024;

/** RunMeta describes a written run. */
export interface RunMeta {
  no: number;
  path: string;
  bytes: number;
  entries: number;
  /** tombstones is how many of the entries are deletes (the footer's `tombstones`). */
  tombstones: number;
  minSeq: number;
  maxSeq: number;
}

/**
 * writeRun writes `entries` (latin1 keys in ascending order) as run `no` in `dir`. `count` sizes
 * the bloom filter; `minSeq`/`maxSeq` are the seq range the run covers (recorded in the footer).
 */
export async function writeRun(
  vfs: Vfs,
  dir: string,
  no: number,
  entries: Iterable<[string, Versioned]>,
  count: number,
  minSeq: number,
  maxSeq: number,
): Promise<RunMeta> {
  const path = join(dir, runName(no));
  const tmp = `${path}.tmp`;
  const file = await vfs.openAppend(tmp, true);
  try {
    const bloom = KeyBloom.create(count, BLOOM_FP_RATE);
    const index: { firstKey: string; offset: number; length: number; crc: number }[] = [];
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES + BLOCK_BYTES * 2);
    let chunkLen = 0;
    let fileOffset = 0;
    let blockStart = 0;
    let blockFirstKey: string | undefined;
    /** restarts of the open block: offsets (from its start) of every RESTART_INTERVAL-th entry. */
    const restarts: number[] = [];
    let blockEntries = 0;
    let n = 0;
    let tombstones = 0;
    const ensure = (bytes: number): void => {
      if (chunkLen + bytes <= chunk.length) return;
      const bigger = Buffer.allocUnsafe(Math.max(chunk.length * 2, chunkLen + bytes));
      chunk.copy(bigger, 0, 0, chunkLen);
      chunk = bigger;
    };
    const closeBlock = (): void => {
      if (blockFirstKey === undefined) return;
      ensure(4 * restarts.length + 4);
      for (const r of restarts) {
        chunk.writeUInt32LE(r, chunkLen);
        chunkLen += 4;
      }
      chunk.writeUInt32LE(restarts.length, chunkLen);
      chunkLen += 4;
      restarts.length = 0;
      blockEntries = 0;
      const length = chunkLen - blockStart;
      index.push({
        firstKey: blockFirstKey,
        offset: fileOffset + blockStart,
        length,
        crc: crc32c(chunk, blockStart, chunkLen),
      });
      blockFirstKey = undefined;
      blockStart = chunkLen;
    };
    for (const [key, e] of entries) {
      const expiresAtMs = e.expiresAtMs ?? 0;
      const expiryLen = e.value !== null && expiresAtMs > 0 ? EXPIRY_BYTES : 0;
      const valueLen = expiryLen + (e.value?.length ?? 0);
      const size = ENTRY_HEADER_BYTES + key.length + valueLen;
      ensure(size);
      blockFirstKey ??= key;
      if (blockEntries++ % RESTART_INTERVAL === 0) restarts.push(chunkLen - blockStart);
      chunk.writeUInt16LE(key.length, chunkLen);
      chunk[chunkLen + 2] = e.value === null ? FLAG_TOMBSTONE : expiryLen > 0 ? FLAG_EXPIRES : 0;
      writeU64(chunk, e.seq, chunkLen + 3);
      chunk.writeUInt32LE(valueLen, chunkLen + 11);
      chunk.write(key, chunkLen + ENTRY_HEADER_BYTES, 'latin1');
      const v = chunkLen + ENTRY_HEADER_BYTES + key.length;
      if (expiryLen > 0) writeU64(chunk, expiresAtMs, v);
      if (e.value !== null) e.value.copy(chunk, v + expiryLen);
      chunkLen += size;
      bloom.add(key);
      n++;
      if (e.value === null) tombstones++;
      if (chunkLen - blockStart >= BLOCK_BYTES) {
        closeBlock();
        if (chunkLen >= CHUNK_BYTES) {
          await file.append(chunk.subarray(0, chunkLen));
          fileOffset += chunkLen;
          chunk = Buffer.allocUnsafe(CHUNK_BYTES + BLOCK_BYTES * 2);
          chunkLen = 0;
          blockStart = 0;
        }
      }
    }
    closeBlock();
    if (chunkLen > 0) await file.append(chunk.subarray(0, chunkLen));
    fileOffset += chunkLen;

    const indexBuf = encodeIndex(index);
    const bloomBuf = bloom.encode();
    const footer = Buffer.alloc(FOOTER_BYTES);
    footer.writeUInt32LE(SST_MAGIC, 0);
    footer[4] = SST_VERSION;
    writeU64(footer, fileOffset, 8);
    footer.writeUInt32LE(indexBuf.length, 16);
    footer.writeUInt32LE(crc32c(indexBuf), 20);
    writeU64(footer, fileOffset + indexBuf.length, 24);
    footer.writeUInt32LE(bloomBuf.length, 32);
    footer.writeUInt32LE(crc32c(bloomBuf), 36);
    writeU64(footer, n, 40);
    writeU64(footer, minSeq, 48);
    writeU64(footer, maxSeq, 56);
    footer.writeUInt32LE(Math.min(tombstones, 0xffffffff), FOOTER_TOMBSTONES_AT);
    footer.writeUInt32LE(crc32c(footer, 0, FOOTER_BYTES - 4), FOOTER_BYTES - 4);
    await file.append(Buffer.concat([indexBuf, bloomBuf, footer]));
    await file.sync();
    await file.close();
    vfs.rename(tmp, path);
    vfs.syncDir(dir);
    return {
      no,
      path,
      bytes: fileOffset + indexBuf.length + bloomBuf.length + FOOTER_BYTES,
      entries: n,
      tombstones,
      minSeq,
      maxSeq,
    };
  } catch (err) {
    await file.close().catch(() => undefined);
    try {
      vfs.unlink(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
}

function encodeIndex(index: { firstKey: string; offset: number; length: number; crc: number }[]): Buffer {
  let size = 4;
  for (const e of index) size += 2 + e.firstKey.length + 8 + 4 + 4;
  const b = Buffer.alloc(size);
  b.writeUInt32LE(index.length, 0);
  let p = 4;
  for (const e of index) {
    b.writeUInt16LE(e.firstKey.length, p);
    b.write(e.firstKey, p + 2, 'latin1');
    p += 2 + e.firstKey.length;
    writeU64(b, e.offset, p);
    b.writeUInt32LE(e.length, p + 8);
    b.writeUInt32LE(e.crc, p + 12);
    p += 16;
  }
  return b;
}
