/**
 * Where a watch starts and resumes (docs/watch.md, "Resuming"): the `from` parameter and the
 * cursor every event carries are the same text, a comma-separated list of
 *
 *   SHARD:E.S   shard SHARD: events after version E.S (its epoch and seq, routing/version.ts)
 *   E.S         every shard not named otherwise: events after E.S
 *   now         every shard not named otherwise: events from now on (the default)
 *
 * e.g. `0:0.120,1:0.98` or `now`. `0.0` replays each shard's whole log (a snapshot when the log
 * no longer starts at seq 1), as does `E.0` for any E: seq 0 precedes every epoch's records. A
 * cursor names every watched shard, so sending back the last one received resumes exactly after
 * it, shard by shard. A shard named twice, or two items for every
 * other shard, is refused: which one the watcher meant cannot be told.
 */
import { DistkvError } from '../errors.js';
import { formatVersion, parseVersion, type Version } from '../routing/version.js';

/** Start is where one shard's watch starts: after a version, or now. */
export type Start = Version | 'now';

/** FromSpec is a parsed `from`: per-shard starts and the start of every other shard. */
export interface FromSpec {
  shards: Map<number, Start>;
  rest: Start;
}

const MAX_ITEMS = 16384;

/** parseFrom reads a `from` parameter ("" = now); it throws INVALID_ARGUMENT naming the bad item. */
export function parseFrom(text: string): FromSpec {
  const spec: FromSpec = { shards: new Map(), rest: 'now' };
  if (text === '') return spec;
  const items = text.split(',');
  if (items.length > MAX_ITEMS) throw bad(`from has ${items.length} items; at most ${MAX_ITEMS}`);
  let restGiven = false;
  for (const item of items) {
    const colon = item.indexOf(':');
    const startText = colon < 0 ? item : item.slice(colon + 1);
    const start = startText === 'now' ? 'now' : parseVersion(startText);
    if (start === undefined) throw bad(`from item "${item}" is not SHARD:E.S, E.S or now`);
    if (colon < 0) {
      if (restGiven) throw bad(`from has two items for every other shard; the second is "${item}"`);
      restGiven = true;
      spec.rest = start;
      continue;
    }
    const shardText = item.slice(0, colon);
    if (!/^\d{1,5}$/.test(shardText)) throw bad(`from item "${item}" has no shard number before ":"`);
    const shard = Number(shardText);
    if (spec.shards.has(shard)) throw bad(`from names shard ${shard} twice; the second is "${item}"`);
    spec.shards.set(shard, start);
  }
  return spec;
}

/** startOf returns where shard `shard` starts under `spec`. */
export function startOf(spec: FromSpec, shard: number): Start {
  return spec.shards.get(shard) ?? spec.rest;
}

/** formatCursor writes per-shard positions (shard order) as a `from` value. */
export function formatCursor(positions: ReadonlyMap<number, Version>): string {
  return [...positions.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([shard, v]) => `${String(shard)}:${formatVersion(v)}`)
    .join(',');
}

/** cursorItem is one shard's item of a cursor: `SHARD:E.S`. */
export function cursorItem(shard: number, v: Version): string {
  return `${String(shard)}:${formatVersion(v)}`;
}

/**
 * CursorAround is a cursor's text around one shard's item, so that the cursor after each event of
 * that shard is `before + item + after`: `before` is the items of the shards before it, each
 * followed by ","; `after` the items of the shards after it, each preceded by ",".
 */
export interface CursorAround {
  before: string;
  after: string;
}

/** cursorAround splits the cursor of `items` (cursorItem, in shard order) around item `i`. */
export function cursorAround(items: readonly string[], i: number): CursorAround {
  let before = '';
  let after = '';
  for (let j = 0; j < items.length; j++)
    if (j < i) before += `${items[j]!},`;
    else if (j > i) after += `,${items[j]!}`;
  return { before, after };
}

function bad(message: string): DistkvError {
  return new DistkvError('INVALID_ARGUMENT', message);
}
