/**
 * The events a watcher receives (docs/watch.md, "Events"), one JSON object each, the same over
 * Server-Sent Events (`event:` = its type, `data:` = the object, `id:` = the cursor) and over a
 * WebSocket (one text message per object, the cursor in its `cursor` field):
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
 * A value is sent as UTF-8 text when it is valid UTF-8, else as `value_base64`.
 */
import { formatVersion, type Version } from '../routing/version.js';

/** WatchEvent is one event as sent (its `type` and fields). */
export type WatchEvent = { type: string } & Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** valueFields returns the JSON fields of a value: `value` (UTF-8) or `value_base64`. */
export function valueFields(value: Uint8Array): Record<string, string> {
  try {
    return { value: utf8.decode(value) };
  } catch {
    return { value_base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
}

/** changeEvent builds a put, delete or expire event. */
export function changeEvent(
  type: 'put' | 'delete' | 'expire',
  shard: number,
  key: string,
  value: Uint8Array | undefined,
  version: Version,
): WatchEvent {
  const ev: WatchEvent = { type, shard, key };
  if (value !== undefined) Object.assign(ev, valueFields(value));
  ev.version = formatVersion(version);
  return ev;
}

/** sseFrame encodes an event as a Server-Sent Events frame (`id` = the cursor after it). */
export function sseFrame(json: string, type: string, cursor: string): string {
  return `id: ${cursor}\nevent: ${type}\ndata: ${json}\n\n`;
}
