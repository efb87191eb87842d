/**
 * The client's binary watch decoding as it was before src/client/watch-decode.ts (session 35),
 * kept as the model the new one must equal (test/unit/client-watch-decode.test.ts) and as the
 * "before" of its cost (bench/watch-decode-cost.ts): every frame decoded into its own objects
 * (`BinaryWatchReader.push`: copies of the key and value), an event object per change, the
 * version written then parsed back, and the cursor written from every shard's position for every
 * event.
 */
import { isUtf8 } from 'node:buffer';
import type { ServerEvent, WatchChange } from '../../src/client/watch-decode.js';
import { parseVersion, type Version } from '../../src/routing/version.js';
import { BinaryWatchReader } from '../../src/watch/watch-binary-reader.js';
import { formatCursor, parseFrom } from '../../src/watch/watch-cursor.js';

/** LegacyModules is what the old decoding used (another build's, for a bench's "before"). */
export interface LegacyModules {
  BinaryWatchReader: typeof BinaryWatchReader;
  formatCursor: typeof formatCursor;
  parseFrom: typeof parseFrom;
  parseVersion: typeof parseVersion;
}

const THIS_BUILD: LegacyModules = { BinaryWatchReader, formatCursor, parseFrom, parseVersion };

/** LegacyEvent is an event as the old decoding made it: a binary change carried its value and key bytes in it. */
interface LegacyEvent extends ServerEvent {
  bytes?: Buffer;
  keyBytes?: Buffer;
}

/**
 * legacyChanges decodes a binary watch stream, read as `chunks`, into what `watch` yielded, each
 * handed to `emit` (by default: returned), with `m`'s reader and cursor functions.
 */
export function legacyChanges(
  chunks: readonly Buffer[],
  values: boolean,
  emit?: (change: WatchChange) => void,
  m: LegacyModules = THIS_BUILD,
): WatchChange[] {
  const { formatCursor, parseFrom, parseVersion } = m;
  const positions = new Map<number, Version>();
  const out: WatchChange[] = [];
  const queue = { push: emit ?? ((c: WatchChange) => out.push(c)) };
  const push = (ev: LegacyEvent): boolean => {
    const shard = ev.shard ?? -1;
    if (ev.type === 'put' || ev.type === 'delete' || ev.type === 'expire') {
      if (ev.snapshot !== true) {
        const v = parseVersion(ev.version ?? '');
        if (v === undefined) return false;
        const known = positions.get(shard);
        if (known !== undefined && v.seq <= known.seq) return false;
        positions.set(shard, v);
      }
      const change: WatchChange = {
        type: ev.type,
        shard,
        key: ev.key ?? '',
        cursor: formatCursor(positions),
      };
      if (ev.keyBytes !== undefined) change.keyBytes = ev.keyBytes;
      else if (ev.key_base64 !== undefined) change.keyBytes = Buffer.from(ev.key_base64, 'base64');
      if (ev.bytes !== undefined) change.value = ev.bytes;
      else if (ev.value !== undefined) change.value = Buffer.from(ev.value, 'utf8');
      else if (ev.value_base64 !== undefined) change.value = Buffer.from(ev.value_base64, 'base64');
      if (ev.version !== undefined) change.version = ev.version;
      if (ev.snapshot === true) change.snapshot = true;
      queue.push(change);
    } else if (ev.type === 'snapshot-begin' || ev.type === 'snapshot-end') {
      if (ev.type === 'snapshot-end') {
        const v = parseVersion(ev.version ?? '');
        if (v !== undefined) positions.set(shard, v);
      } else if (shard >= 0) positions.set(shard, { epoch: 0, seq: 0 }); // (session 41: a half-sent snapshot resumes from 0.0)
      queue.push({
        type: ev.type,
        shard,
        ...(ev.version === undefined ? {} : { version: ev.version }),
        cursor: formatCursor(positions),
      });
    } else if (ev.cursor !== undefined && (ev.type === 'hello' || ev.type === 'progress')) {
      const spec = parseFrom(ev.cursor);
      for (const [s, start] of spec.shards) {
        if (start === 'now') continue;
        const known = positions.get(s);
        // (session 41: hello's positions are taken as they are, where the stream starts)
        if (known === undefined || ev.type === 'hello' || start.seq > known.seq) positions.set(s, start);
      }
    }
    return ev.type === 'resume';
  };
  const reader = new m.BinaryWatchReader();
  for (const chunk of chunks)
    for (const f of reader.push(chunk)) {
      if (f.type === 'json') {
        if (push(JSON.parse(f.json) as LegacyEvent)) return out;
        continue;
      }
      const key = f.key.toString('utf8');
      const ev: LegacyEvent = { type: f.type, shard: f.shard, key, version: f.version };
      if (key.includes('\uFFFD') && !isUtf8(f.key)) ev.keyBytes = f.key;
      if (values && f.value !== undefined) ev.bytes = f.value;
      push(ev);
    }
  return out;
}
