/**
 * A store's own slots after a layout change (docs/operations.md, "Changing the layout").
 *
 * Keys are routed by slot, so a store only ever receives keys of its shard's slots; but a node
 * restarted with another layout opens the same store directories with other slot ranges, and the
 * keys of the slots that left a store stay in it (until `GET /purge` deletes them), where reads no
 * longer look. Two things keep that from lying:
 *  - `scanOwnSlots` lists only the keys of the shard's slots, so a scan agrees with reads: a key
 *    left behind is not listed with a stale value, nor listed twice once written under the new
 *    layout (the merge across shards would give both, the old value first).
 *  - `noteSlots` keeps the slot range a store was last opened with in `<store dir>/SLOTS`
 *    (`first-last` and a newline) and says when it changed, so an operator learns at startup that
 *    keys may have been left behind, and what to do, before a purge deletes them.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SLOT_COUNT, slotOfBytes } from '../routing/slot.js';
import { entryBytes, scanPageFull, type Store, type StoreEntry } from './store.js';

/** SLOTS_FILE is the name of the file in a store's directory that holds its last slot range. */
export const SLOTS_FILE = 'SLOTS';

/** SlotRange is a shard's inclusive slot range. */
export interface SlotRange {
  first: number;
  last: number;
}

/**
 * scanOwnSlots is `store.scan` with only the keys of `range`: it reads on past keys of other slots
 * until it has `limit` entries (or `maxBytes` of keys and values, as Store.scan counts them) or
 * the store has no more, so a page that is not full (`scanPageFull`) still means the end.
 */
export function scanOwnSlots(
  store: Pick<Store, 'scan'>,
  range: SlotRange,
  prefix: Uint8Array,
  after: Uint8Array | undefined,
  limit: number,
  maxBytes = Infinity,
): StoreEntry[] {
  const page = store.scan(prefix, after, limit, maxBytes);
  if (range.first === 0 && range.last === SLOT_COUNT - 1) return page;
  const own = (e: StoreEntry): boolean => {
    const slot = slotOfBytes(e.key);
    return slot >= range.first && slot <= range.last;
  };
  const out: StoreEntry[] = [];
  let bytes = 0;
  const take = (raw: StoreEntry[]): void => {
    for (const e of raw) {
      if (out.length >= limit || bytes >= maxBytes) return;
      if (!own(e)) continue;
      out.push(e);
      bytes += entryBytes(e);
    }
  };
  take(page);
  let raw = page;
  while (out.length < limit && bytes < maxBytes && scanPageFull(raw, limit, maxBytes)) {
    raw = store.scan(prefix, raw[raw.length - 1]!.key, limit, maxBytes);
    take(raw);
  }
  return out;
}

/**
 * noteSlots records `range` as the slots of the store in `dir` and returns the range it held
 * before when that differs (undefined for a new store, or one whose range is unchanged).
 */
export async function noteSlots(dir: string, range: SlotRange): Promise<SlotRange | undefined> {
  const path = join(dir, SLOTS_FILE);
  const text = `${range.first}-${range.last}\n`;
  let before: string | undefined;
  try {
    before = await readFile(path, 'utf8');
  } catch {
    // no SLOTS yet: a new store, or one from a version that did not keep it
  }
  if (before === text) return undefined;
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
  const m = before === undefined ? null : /^(\d+)-(\d+)\n$/.exec(before);
  return m === null ? undefined : { first: Number(m[1]), last: Number(m[2]) };
}
