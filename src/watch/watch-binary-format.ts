/**
 * The binary watch stream (docs/watch.md, "Binary stream"): what `GET /watch` sends, as the body of
 * a chunked response, to a client that asks for it with `Accept: application/vnd.distkv.watch`.
 * The same events as over SSE, but a change is a fixed header and raw bytes instead of text: a
 * client finds each event's shard, version and key at fixed offsets, without searching or parsing
 * text, and a value travels as it is (no escaping, no base64). Every other event (hello, progress,
 * snapshot markers and entries, resume) is its JSON, as over SSE.
 *
 *   stream := VERSION frame*
 *   frame  := length:u32le type:u8 body[length]
 *   type CHANGE_PUT | CHANGE_DELETE | CHANGE_EXPIRE:
 *     body := shard:u16le epoch:u32le seq_lo:u32le seq_hi:u32le key_length:u16le key value
 *             (value: the rest of the body; always empty for a delete or an expire, and for a put
 *              when the stream was opened with values=0)
 *   type JSON:      body := the event's JSON text (UTF-8), the same object SSE's `data:` carries
 *   type KEEPALIVE: body := empty (sent while nothing else is; a reader skips it)
 *
 * A reader skips frames of a type it does not know (their length says how far). A client that
 * does not ask for it gets SSE, and a server that does not know it answers SSE: clients tell the
 * two apart by the response's Content-Type.
 */
import { DistkvError } from '../errors.js';
import { formatVersion } from '../routing/version.js';
import type { LogRecord } from './store-log.js';

/** BINARY_MEDIA_TYPE is the Accept value that asks for this stream, and its Content-Type. */
export const BINARY_MEDIA_TYPE = 'application/vnd.distkv.watch';
/** VERSION is the stream's first byte. */
export const VERSION = 1;
/** FRAME_HEADER is the bytes before a frame's body: length, type. */
export const FRAME_HEADER = 5;
/** CHANGE_HEADER is the bytes of a change body before its key: shard, epoch, seq, key length. */
export const CHANGE_HEADER = 16;
export const TYPE_JSON = 0;
export const TYPE_PUT = 1;
export const TYPE_DELETE = 2;
export const TYPE_EXPIRE = 3;
export const TYPE_KEEPALIVE = 4;

const KIND_TYPE = { put: TYPE_PUT, delete: TYPE_DELETE, expire: TYPE_EXPIRE } as const;
const TYPE_KIND = ['json', 'put', 'delete', 'expire'] as const;
const SEQ_HI = 2 ** 32;

/**
 * changeFrames encodes the records of `batch` under `prefix` as change frames, in one buffer
 * (values left out when `values` is false).
 */
export function changeFrames(
  batch: readonly LogRecord[],
  shard: number,
  prefix: string,
  values: boolean,
  epochOf: (seq: number) => number,
): Buffer {
  let size = 0;
  const keys: (Buffer | undefined)[] = [];
  for (const r of batch) {
    if (!r.key.startsWith(prefix)) {
      keys.push(undefined);
      continue;
    }
    const key = Buffer.from(r.key, 'utf8');
    keys.push(key);
    size += FRAME_HEADER + CHANGE_HEADER + key.length + (values ? (r.value?.length ?? 0) : 0);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  batch.forEach((r, i) => {
    const key = keys[i];
    if (key === undefined) return;
    const value = values ? r.value : undefined;
    const length = CHANGE_HEADER + key.length + (value?.length ?? 0);
    out.writeUInt32LE(length, at);
    out[at + 4] = KIND_TYPE[r.kind];
    out.writeUInt16LE(shard, at + 5);
    out.writeUInt32LE(epochOf(r.seq), at + 7);
    out.writeUInt32LE(r.seq % SEQ_HI, at + 11);
    out.writeUInt32LE(Math.floor(r.seq / SEQ_HI), at + 15);
    out.writeUInt16LE(key.length, at + 19);
    at += FRAME_HEADER + CHANGE_HEADER;
    at += key.copy(out, at);
    if (value !== undefined) at += value.copy(out, at);
  });
  return out;
}

/** jsonFrame encodes an event's JSON as a frame. */
export function jsonFrame(json: string): Buffer {
  const length = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(FRAME_HEADER + length);
  out.writeUInt32LE(length, 0);
  out[4] = TYPE_JSON;
  out.write(json, FRAME_HEADER, 'utf8');
  return out;
}

/** KEEPALIVE_FRAME is an empty keep-alive frame. */
export const KEEPALIVE_FRAME = Buffer.from([0, 0, 0, 0, TYPE_KEEPALIVE]);

/** DecodedChange is a change frame, decoded. */
export interface DecodedChange {
  type: 'put' | 'delete' | 'expire';
  shard: number;
  key: string;
  /** version is `E.S`. */
  version: string;
  /** value is the put's value bytes (a copy); undefined for a delete or an expire. */
  value: Buffer | undefined;
}

/** DecodedFrame is one frame: a change, or the JSON text of any other event. */
export type DecodedFrame = DecodedChange | { type: 'json'; json: string };

/** MAX_FRAME bounds a frame's length: a key and the largest value a server may send, with room. */
const MAX_FRAME = 1024 * 1024 * 1024;

/**
 * BinaryWatchReader decodes a binary watch stream chunk by chunk: `push` returns the frames
 * completed by the chunk (keep-alives and unknown types are skipped). A bad version byte or
 * frame length throws a DistkvError('CORRUPTION').
 */
export class BinaryWatchReader {
  private carry: Buffer = Buffer.alloc(0);
  private versionSeen = false;

  push(chunk: Buffer): DecodedFrame[] {
    let buf = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    if (!this.versionSeen) {
      if (buf.length === 0) return [];
      if (buf[0] !== VERSION)
        throw new DistkvError('CORRUPTION', `watch stream version ${String(buf[0])}; expected ${VERSION}`);
      this.versionSeen = true;
      buf = buf.subarray(1);
    }
    const out: DecodedFrame[] = [];
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const length = buf.readUInt32LE(at);
      if (length > MAX_FRAME)
        throw new DistkvError('CORRUPTION', `watch frame of ${length} bytes; at most ${MAX_FRAME}`);
      if (buf.length - at < FRAME_HEADER + length) break;
      const frame = decodeFrame(buf, at + FRAME_HEADER, buf[at + 4]!, length);
      if (frame !== undefined) out.push(frame);
      at += FRAME_HEADER + length;
    }
    this.carry = Buffer.from(buf.subarray(at));
    return out;
  }
}

function decodeFrame(buf: Buffer, body: number, type: number, length: number): DecodedFrame | undefined {
  if (type === TYPE_JSON) return { type: 'json', json: buf.toString('utf8', body, body + length) };
  const kind = TYPE_KIND[type];
  if (kind === undefined || kind === 'json') return undefined;
  if (length < CHANGE_HEADER)
    throw new DistkvError('CORRUPTION', `watch change frame of ${length} bytes; at least ${CHANGE_HEADER}`);
  const keyLength = buf.readUInt16LE(body + 14);
  if (CHANGE_HEADER + keyLength > length)
    throw new DistkvError('CORRUPTION', `watch change key of ${keyLength} bytes overruns its frame`);
  const seq = buf.readUInt32LE(body + 6) + buf.readUInt32LE(body + 10) * SEQ_HI;
  const keyAt = body + CHANGE_HEADER;
  return {
    type: kind,
    shard: buf.readUInt16LE(body),
    key: buf.toString('utf8', keyAt, keyAt + keyLength),
    version: formatVersion({ epoch: buf.readUInt32LE(body + 2), seq }),
    value: kind === 'put' ? Buffer.from(buf.subarray(keyAt + keyLength, body + length)) : undefined,
  };
}
