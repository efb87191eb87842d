/**
 * What `client.watch` makes of a watch stream's events (src/client/watch.ts): each shard's
 * position, and the WatchChange objects it yields, built with as little work per change as the
 * caller's reading allows.
 *
 *   WatchPositions  every shard's last version and the cursor they make (`SHARD:E.S` items in
 *                   shard order, src/watch/watch-cursor.ts). Each event carries the cursor as the
 *                   positions stood after it; while one shard moves (a batch of its changes) the
 *                   text around its item is kept, so an event's cursor costs one concatenation,
 *                   not a pass over every shard.
 *   WatchEvents     turns a stream's events into WatchChanges, in order, dropping changes at or
 *                   below a shard's position (duplicates after a reconnect): the JSON events
 *                   of SSE and of the binary stream (`accept`), and the binary stream's change
 *                   frames as they lie in the bytes read (a ChangeSink: no version text parsed
 *                   back, the key decoded once, the value a view of the bytes read, not a copy).
 *   readFrames, readEvents  read a response body (binary stream, SSE) into a WatchEvents, and
 *                   wait on the caller's back-pressure after each chunk.
 *
 * Per change this was the client's largest cost: the cursor written for every event (sorted and
 * joined over every shard), the version written then parsed back, an object per frame and per
 * event, and copies of the key and value (docs/performance.md, "Watch: the client's decoding").
 */
import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { formatVersion, parseVersion, type Version } from '../routing/version.js';
import { BinaryWatchReader, type ChangeKind, type ChangeSink } from '../watch/watch-binary-reader.js';
import { parseFrom } from '../watch/watch-cursor.js';

/** WatchChange is one change or snapshot marker yielded by `watch`. */
export interface WatchChange {
  /** type: a change, a snapshot marker, or (only with the watch's `progress: true`) `progress`. */
  type: 'put' | 'delete' | 'expire' | 'snapshot-begin' | 'snapshot-end' | 'progress';
  /** shard is the change's shard (-1 on `progress`, which carries only `cursor`). */
  shard: number;
  /**
   * key is set on put, delete and expire (and snapshot entries). A key that is not UTF-8 (written
   * over RESP or as `/kv/%FF...`) shows here with U+FFFD in place of its bytes, and comes exactly
   * in `keyBytes`, as a scan's items do.
   */
  key?: string;
  /** keyBytes is the key's exact bytes when they are not UTF-8. */
  keyBytes?: Buffer;
  /**
   * value is set on put (unless values: false). From the binary stream it is a view of the bytes
   * the client read (never modified or reused), not a copy of its own.
   */
  value?: Buffer;
  /** version is the change's version `E.S` (on snapshot markers: the snapshot's); absent on snapshot entries. */
  version?: string;
  /** snapshot marks a put that lists a key's current value inside a snapshot. */
  snapshot?: boolean;
  /** cursor resumes after this event (as `from`). */
  cursor: string;
}

/** ServerEvent is a watch event's JSON as the server sends it (docs/watch.md, "Events"). */
export interface ServerEvent {
  type: string;
  shard?: number;
  key?: string;
  key_base64?: string;
  value?: string;
  value_base64?: string;
  version?: string;
  snapshot?: boolean;
  cursor?: string;
  reason?: string;
}

const KIND_TYPE = [undefined, 'put', 'delete', 'expire'] as const;

/** WatchPositions holds every shard's position (see the design block). */
export class WatchPositions {
  // shard numbers ascending, and each one's epoch, seq and cursor item `SHARD:E.S` (same index)
  private shards: number[] = [];
  private epochs: number[] = [];
  private seqs: number[] = [];
  private items: string[] = [];
  // the index of the shard that moved last, and the cursor's text before and after its item
  // (with their commas): kept while only that shard moves, as in a batch of one shard's changes
  private last = -1;
  private before: string | undefined;
  private after = '';

  /** get is shard `shard`'s position, if it has one. */
  get(shard: number): Version | undefined {
    const i = this.indexOf(shard);
    return this.shards[i] === shard ? { epoch: this.epochs[i]!, seq: this.seqs[i]! } : undefined;
  }

  /** seqOf is shard `shard`'s seq, or -1 when it has no position. */
  seqOf(shard: number): number {
    const i = this.indexOf(shard);
    return this.shards[i] === shard ? this.seqs[i]! : -1;
  }

  /** set moves shard `shard` to `epoch`.`seq`, whose text (formatVersion) is `version`. */
  set(shard: number, epoch: number, seq: number, version: string): void {
    const i = this.indexOf(shard);
    if (this.shards[i] !== shard) {
      this.shards.splice(i, 0, shard);
      this.epochs.splice(i, 0, epoch);
      this.seqs.splice(i, 0, seq);
      this.items.splice(i, 0, '');
      this.before = undefined;
    } else if (i !== this.last) this.before = undefined;
    this.epochs[i] = epoch;
    this.seqs[i] = seq;
    this.items[i] = `${String(shard)}:${version}`;
    this.last = i;
  }

  /**
   * cursor is the positions' `from` text now (watch-cursor.ts formatCursor): the text around the
   * shard that moved last is joined once, then only that shard's item changes.
   */
  cursor(): string {
    const i = this.last;
    if (i < 0) return '';
    if (this.before === undefined) {
      this.before = this.items
        .slice(0, i)
        .map((item) => `${item},`)
        .join('');
      this.after = this.items
        .slice(i + 1)
        .map((item) => `,${item}`)
        .join('');
    }
    return this.before + this.items[i]! + this.after;
  }

  /** indexOf is where `shard` is in `shards`, or where it would go. */
  private indexOf(shard: number): number {
    let lo = 0;
    let hi = this.shards.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.shards[mid]! < shard) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** WatchEvents turns one watch's stream events into WatchChanges (see the design block). */
export class WatchEvents implements ChangeSink {
  readonly positions = new WatchPositions();
  private readonly values: boolean;
  private readonly emit: (change: WatchChange) => void;
  private readonly other: (ev: ServerEvent) => void;

  /**
   * `values`: put values are kept (false: a watch without values); `emit` takes each change and
   * snapshot marker; `other` each JSON event that is neither (hello, progress, resume), after
   * the positions took what it says.
   */
  constructor(values: boolean, emit: (change: WatchChange) => void, other: (ev: ServerEvent) => void) {
    this.values = values;
    this.emit = emit;
    this.other = other;
  }

  /** json takes a binary stream's JSON event (ChangeSink). */
  json(text: string): void {
    this.accept(JSON.parse(text) as ServerEvent);
  }

  /** change takes a binary stream's change frame (ChangeSink). */
  change(
    kind: ChangeKind,
    shard: number,
    epoch: number,
    seq: number,
    buf: Buffer,
    keyAt: number,
    valueAt: number,
    end: number,
  ): void {
    if (seq <= this.positions.seqOf(shard)) return;
    const version = formatVersion({ epoch, seq });
    this.positions.set(shard, epoch, seq, version);
    const key = buf.toString('utf8', keyAt, valueAt);
    const change: WatchChange = { type: KIND_TYPE[kind], shard, key, cursor: this.positions.cursor() };
    // (without U+FFFD in its text a key is UTF-8: the check is made only when one is there)
    if (key.includes('\uFFFD') && !isUtf8(buf.subarray(keyAt, valueAt)))
      change.keyBytes = Buffer.from(buf.subarray(keyAt, valueAt));
    if (this.values && kind === 1) change.value = buf.subarray(valueAt, end);
    change.version = version;
    this.emit(change);
  }

  /** accept takes a JSON event (SSE's, or the binary stream's non-change events). */
  accept(ev: ServerEvent): void {
    const shard = ev.shard ?? -1;
    if (ev.type === 'put' || ev.type === 'delete' || ev.type === 'expire') {
      if (ev.snapshot !== true) {
        const v = parseVersion(ev.version ?? '');
        if (v === undefined || v.seq <= this.positions.seqOf(shard)) return;
        this.positions.set(shard, v.epoch, v.seq, formatVersion(v));
      }
      const change: WatchChange = {
        type: ev.type,
        shard,
        key: ev.key ?? '',
        cursor: this.positions.cursor(),
      };
      if (ev.key_base64 !== undefined) change.keyBytes = Buffer.from(ev.key_base64, 'base64');
      if (ev.value !== undefined) change.value = Buffer.from(ev.value, 'utf8');
      else if (ev.value_base64 !== undefined) change.value = Buffer.from(ev.value_base64, 'base64');
      if (ev.version !== undefined) change.version = ev.version;
      if (ev.snapshot === true) change.snapshot = true;
      this.emit(change);
    } else if (ev.type === 'snapshot-begin' || ev.type === 'snapshot-end') {
      if (ev.type === 'snapshot-end') {
        const v = parseVersion(ev.version ?? '');
        if (v !== undefined) this.positions.set(shard, v.epoch, v.seq, formatVersion(v));
      } else if (shard >= 0) {
        // Until the snapshot ends the shard's keys are half sent: a resume must replay the whole
        // log or take the snapshot again, never go on after the position it replaces (one ahead
        // of the log would then skip what the log wrote up to it: docs/watch.md, "Resuming").
        this.positions.set(shard, 0, 0, '0.0');
      }
      this.emit({
        type: ev.type,
        shard,
        ...(ev.version === undefined ? {} : { version: ev.version }),
        cursor: this.positions.cursor(),
      });
    } else {
      if (ev.cursor !== undefined && (ev.type === 'hello' || ev.type === 'progress')) {
        // Positions the server reports, for shards whose own events have not moved them further;
        // hello's are where the stream starts, taken as they are: a server that found a shard's
        // position ahead of its log names `0.0` there until the shard's snapshot ends, and a
        // resume from the position sent would go on after it once the log passed it.
        const spec = parseFrom(ev.cursor);
        for (const [s, start] of spec.shards) {
          if (start === 'now') continue;
          if (ev.type === 'hello' || start.seq > this.positions.seqOf(s))
            this.positions.set(s, start.epoch, start.seq, formatVersion(start));
        }
      }
      this.other(ev);
    }
  }
}

/**
 * readFrames reads a binary watch stream (either version) into `events`, chunk by chunk, and
 * waits on `taken` after each; it returns after a `resume` event (the stream's last) with its
 * reason ("" when it gives none), or undefined when the stream ended without one.
 */
export async function readFrames(
  body: AsyncIterable<Buffer>,
  events: WatchEvents,
  taken: () => Promise<void>,
): Promise<string | undefined> {
  const reader = new BinaryWatchReader();
  // set by the sink at a `resume`: nothing after it is read
  const state: { resumed: boolean; reason: string } = { resumed: false, reason: '' };
  const sink: ChangeSink = {
    change: (kind, shard, epoch, seq, buf, keyAt, valueAt, end) => {
      if (!state.resumed) events.change(kind, shard, epoch, seq, buf, keyAt, valueAt, end);
    },
    json: (text) => {
      if (state.resumed) return;
      const ev = JSON.parse(text) as ServerEvent;
      events.accept(ev);
      state.resumed = ev.type === 'resume';
      if (state.resumed) state.reason = ev.reason ?? '';
    },
  };
  for await (const chunk of body) {
    reader.read(chunk, sink);
    await taken();
    if (state.resumed) return state.reason;
  }
  return undefined;
}

/**
 * readEvents parses a Server-Sent Events body into `events`, waiting on `taken` after each chunk;
 * it returns as readFrames does.
 */
export async function readEvents(
  body: AsyncIterable<Buffer>,
  events: WatchEvents,
  taken: () => Promise<void>,
): Promise<string | undefined> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let data = '';
  for await (const chunk of body) {
    const lines = (partial + decoder.write(chunk)).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line === '') {
        if (data !== '') {
          const ev = JSON.parse(data) as ServerEvent;
          data = '';
          events.accept(ev);
          if (ev.type === 'resume') {
            await taken();
            return ev.reason ?? '';
          }
        }
      } else if (line.startsWith('data: ')) data += line.slice(6);
    }
    await taken();
  }
  return undefined;
}
