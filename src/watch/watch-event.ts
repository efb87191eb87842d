/**
 * The events a watcher receives (docs/watch.md, "Events"), one JSON object each, the same over
 * Server-Sent Events (`event:` = its type, `data:` = the object, `id:` = the cursor) and over a
 * WebSocket (one text message per object, the cursor in its `cursor` field); the binary stream
 * (watch-binary-format.ts) sends put/delete/expire as binary frames and the others as JSON frames:
 *
 *   hello           {shards, elsewhere, cursor}        first: what this stream serves
 *   put             {shard, key, value?, version}      a key written (value omitted with values=0)
 *   delete / expire {shard, key, version}              a key deleted / expired (ordered, from the log)
 *   snapshot-begin  {shard, version}                   the log no longer holds `from`: the shard's
 *   put             {shard, key, value?, snapshot: true}  current matching keys follow...
 *   snapshot-end    {shard, version}                   ...then events continue after `version`
 *   progress        {cursor, lag?}                     the position moved (and a replica's lag)
 *   resume          {reason, cursor}                   last: reconnect with from=cursor
 *
 * A value is sent as UTF-8 text when it is valid UTF-8, else as `value_base64`. A key that is not
 * UTF-8 shows in `key` with U+FFFD in place of its bytes and exactly in `key_base64`, as a scan's
 * items do (src/http/scatter-merge.ts): two such keys can show as one text.
 */
import { isUtf8 } from 'node:buffer';
import { encodeFrame, OP_TEXT } from '../http/websocket-format.js';
import { formatVersion, type Version } from '../routing/version.js';
import { hasPrefix } from '../util/bytes.js';
import type { LogRecord } from './store-log.js';
import type { CursorAround } from './watch-cursor.js';
import { changeFrames, type StreamVersion } from './watch-binary-format.js';

/** WatchEvent is one event as sent (its `type` and fields). */
export type WatchEvent = { type: string } & Record<string, unknown>;

// ignoreBOM: a value's leading U+FEFF is part of it (by default the decoder drops it, and a value
// written as EF BB BF 'hello' was sent as "hello").
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** valueFields returns the JSON fields of a value: `value` (UTF-8) or `value_base64`. */
export function valueFields(value: Uint8Array): Record<string, string> {
  try {
    return { value: utf8.decode(value) };
  } catch {
    return { value_base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
}

/**
 * keyFields returns the JSON fields of a key: `key` (its UTF-8 text), and `key_base64` (its exact
 * bytes) when it is not UTF-8. Decoding puts U+FFFD in place of such bytes: without one the text
 * is exact, and the UTF-8 check is made only on a key that holds one (it may be U+FFFD itself).
 */
export function keyFields(bytes: Uint8Array): { key: string; key_base64?: string } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const key = b.toString('utf8');
  if (!key.includes('\uFFFD') || isUtf8(b)) return { key };
  return { key, key_base64: b.toString('base64') };
}

/** changeEvent builds a put, delete or expire event (`key`, and `key_base64` when it is not UTF-8). */
export function changeEvent(
  type: 'put' | 'delete' | 'expire',
  shard: number,
  key: Uint8Array,
  value: Uint8Array | undefined,
  version: Version,
): WatchEvent {
  const ev: WatchEvent = { type, shard, ...keyFields(key) };
  if (value !== undefined) Object.assign(ev, valueFields(value));
  ev.version = formatVersion(version);
  return ev;
}

/**
 * WireFormat is how a stream frames its events: Server-Sent Events, WebSocket text messages, or
 * the binary stream's frames in its version 1 or 2 (watch-binary-format.ts).
 */
export type WireFormat = 'sse' | 'ws' | 'bin1' | 'bin2';

/** StreamFormat is how a chunked HTTP watch response frames its events (sse-output.ts): no WebSocket. */
export type StreamFormat = Exclude<WireFormat, 'ws'>;

/** binaryVersion is the binary stream version of a format; undefined for SSE and WebSocket. */
export function binaryVersion(format: WireFormat): StreamVersion | undefined {
  return format === 'bin1' ? 1 : format === 'bin2' ? 2 : undefined;
}

/** Cached is a log record with its event JSON, once encoded (a feed's records are shared by its watchers). */
type Cached = LogRecord & { jsonWithValue?: string; jsonNoValue?: string };

/** Batch is a feed batch; `encoded` caches its shared encodings (see sharedBlock). */
export type Batch = readonly LogRecord[] & { encoded?: Map<string, Buffer> };

/** recordJson returns the JSON of a record's change event, encoded once per form (with or without value). */
export function recordJson(r: LogRecord, shard: number, values: boolean, epoch: number): string {
  const c = r as Cached;
  let json = values ? c.jsonWithValue : c.jsonNoValue;
  if (json === undefined) {
    const ev = changeEvent(r.kind, shard, r.key, values ? r.value : undefined, { epoch, seq: r.seq });
    json = JSON.stringify(ev);
    if (values) c.jsonWithValue = json;
    else c.jsonNoValue = json;
  }
  return json;
}

/**
 * sharedBlock encodes a whole feed batch's events under `prefix` (bytes: a key's bytes start with
 * them) once for every live watcher with the same prefix, value choice and format (SSE frames,
 * WebSocket messages, or binary change frames); the watcher then writes the block and, for SSE,
 * one `id:` line with its cursor after it (which moves the id past records the prefix left out).
 * Over SSE each event carries its own `id:`, the cursor after it, so an EventSource that loses the
 * stream anywhere resumes exactly after the last event it dispatched (docs/watch.md, "Resuming"):
 * `around` is that cursor's text for the stream's other shards (none given: a stream of this shard
 * alone), and the block is shared only by streams that stand at the same positions there (a
 * broadcast's members).
 */
export function sharedBlock(
  batch: Batch,
  shard: number,
  prefix: Buffer,
  values: boolean,
  format: WireFormat,
  epochOf: (seq: number) => number,
  around?: CursorAround,
): Buffer {
  const ids = format === 'sse' ? (around ?? { before: '', after: '' }) : undefined;
  // (the cursor's text holds no "|": the key's parts are told apart whatever the prefix holds)
  const cacheKey = `${format}${values ? '1' : '0'}${ids === undefined ? '' : `${ids.before}|${ids.after}|`}${prefix.toString('latin1')}`;
  const cached = batch.encoded?.get(cacheKey);
  if (cached !== undefined) return cached;
  let block: Buffer;
  const version = binaryVersion(format);
  if (ids !== undefined) block = sseBlock(batch, shard, prefix, values, epochOf, ids);
  // (a binary block starts with an absolute change: deltas restart here, watch-binary-format.ts)
  else if (version !== undefined) block = changeFrames(batch, shard, prefix, values, epochOf, version);
  else {
    const parts: Buffer[] = [];
    for (const r of batch)
      if (hasPrefix(r.key, prefix))
        parts.push(encodeFrame(OP_TEXT, Buffer.from(recordJson(r, shard, values, epochOf(r.seq)))));
    block = Buffer.concat(parts);
  }
  (batch.encoded ??= new Map()).set(cacheKey, block);
  return block;
}

/**
 * batchEpochs returns a shard's epoch lookup (`epochOf`: its epoch history's, src/routing/version.ts
 * epochOfSeq) for the records of `batch`, looked up once for the whole batch when its first and
 * last records have the same epoch: a history names the last epoch that started at or below a
 * seq, so the epoch never goes down as the seq goes up, and a batch whose ends agree has one epoch
 * throughout (a batch that spans a failover keeps the per-record lookup, which scans the history).
 * Only for such a lookup: sharedBlock itself takes any.
 */
export function batchEpochs(batch: Batch, epochOf: (seq: number) => number): (seq: number) => number {
  const first = batch[0];
  const last = batch[batch.length - 1];
  if (first === undefined || last === undefined) return epochOf;
  const epoch = epochOf(first.seq);
  return epochOf(last.seq) === epoch ? () => epoch : epochOf;
}

/**
 * sseBlock writes the SSE frames (`id:`, `event:` and `data:` lines; the id is `around` with the
 * shard's item at the event's version) of a batch's records under `prefix`
 * as one buffer: the bytes JSON.stringify would give for each event (recordJson), built without an
 * object or a JSON pass per record when the key and value need no escaping (printable ASCII
 * without `"` or `\\`: JSON writes them as they are), which is what a busy broadcast spends its
 * encoding on. Any other record (a key that is not UTF-8 among them) goes through recordJson.
 */
function sseBlock(
  batch: Batch,
  shard: number,
  prefix: Buffer,
  values: boolean,
  epochOf: (seq: number) => number,
  around: CursorAround,
): Buffer {
  const shardText = String(shard);
  const idBefore = `id: ${around.before}${shardText}:`;
  const idAfter = `${around.after}\n`;
  let text = '';
  // Plain frames are ASCII: the block is then copied as latin1 (one byte per character, no UTF-8 pass).
  let ascii = true;
  for (const r of batch) {
    if (!hasPrefix(r.key, prefix)) continue;
    const value = values ? r.value : undefined;
    const epoch = epochOf(r.seq);
    const version = formatVersion({ epoch, seq: r.seq });
    if (isPlainBytes(r.key) && (value === undefined || isPlainBytes(value))) {
      const v = value === undefined ? '' : `,"value":"${value.toString('latin1')}"`;
      text += `${idBefore}${version}${idAfter}event: ${r.kind}\ndata: {"type":"${r.kind}","shard":${shardText},"key":"${r.key.toString('latin1')}"${v},"version":"${version}"}\n\n`;
    } else {
      ascii = false;
      text += `${idBefore}${version}${idAfter}event: ${r.kind}\ndata: ${recordJson(r, shard, values, epoch)}\n\n`;
    }
  }
  return Buffer.from(text, ascii ? 'latin1' : 'utf8');
}

/**
 * isPlainBytes reports whether JSON writes `b` as its latin1 text: printable ASCII without `"` or
 * `\` (such bytes are UTF-8, so a key is sent as `key` alone and a value as `value`).
 */
function isPlainBytes(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** sseFrame encodes an event as a Server-Sent Events frame (`id` = the cursor after it). */
export function sseFrame(json: string, type: string, cursor: string): string {
  return `id: ${cursor}\nevent: ${type}\ndata: ${json}\n\n`;
}
