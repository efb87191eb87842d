/**
 * saveForkRecords (src/replication/diverged-file.ts) over a store whose log is short: it reads the
 * store's keys in bounded pages (diverged-scan.ts) and gives the worker's event loop a turn between
 * them, so a large store's save does not hold its worker for seconds; the file holds exactly the
 * keys last written above the fork, and its name says how many (`/stats` counts them, not the range).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readDivergedBytes } from '../../src/cli/diverged-read.js';
import { countDiverged, divergedFileOf, saveForkRecords } from '../../src/replication/diverged-file.js';
import { KEYS_PAGE_LIMIT } from '../../src/replication/diverged-scan.js';
import type { StoreEntry } from '../../src/storage/store.js';
import { tempDir } from '../helpers/temp-dir.js';

const KEYS = 25_000;

/** shortLogStore holds k00000..k24999, key i last written at seq i + 1, and a log that no longer holds any of it. */
function shortLogStore(): {
  lastSeq: () => number;
  readLog: () => 'gone';
  scan: (prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number) => StoreEntry[];
  pages: number;
} {
  const entries = Array.from({ length: KEYS }, (_, i) => ({
    key: Buffer.from(`k${String(i).padStart(5, '0')}`),
    value: Buffer.from(`v${i}`),
    seq: i + 1,
    expiresAtMs: 0,
  }));
  const store = {
    pages: 0,
    lastSeq: () => KEYS,
    readLog: () => 'gone' as const,
    scan(
      _prefix: Uint8Array,
      after: Uint8Array | undefined,
      limit: number,
      maxBytes = Infinity,
    ): StoreEntry[] {
      store.pages++;
      const from = after === undefined ? 0 : entries.findIndex((e) => Buffer.compare(e.key, after) > 0);
      const out: StoreEntry[] = [];
      let bytes = 0;
      for (let i = from; i >= 0 && i < entries.length && out.length < limit && bytes < maxBytes; i++) {
        out.push(entries[i]!);
        bytes += entries[i]!.key.length + entries[i]!.value.length;
      }
      return out;
    },
  };
  return store;
}

describe('a fork saved from a store whose log is short', () => {
  it('reads its keys in pages, the event loop turning between them, and keeps those above the fork', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const store = shortLogStore();
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const saved = await saveForkRecords(store, divergedFileOf(dir, 3, 20_001, KEYS), 20_000);
    counting = false;
    assert.deepEqual(saved, {
      file: divergedFileOf(dir, 3, 20_001, KEYS, 5000),
      records: 5000,
      keys: true,
      existing: false,
    });
    assert.equal(store.pages, Math.ceil(KEYS / KEYS_PAGE_LIMIT));
    assert.ok(
      turns >= store.pages - 1,
      `${String(turns)} turns of the event loop over ${String(store.pages)} pages`,
    );
    const read = readDivergedBytes(readFileSync(saved.file));
    assert.equal(read.damage, undefined);
    assert.deepEqual(
      read.records.map((r) => r.seq),
      Array.from({ length: 5000 }, (_, i) => 20_001 + i),
    );
    assert.deepEqual(readdirSync(root), ['shard-0.diverged-3-20001-25000.keys-5000.log']);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 5000, divergedFiles: 1 });
    // The same fork seen again (a pull's 409, then the map's fork): the file is kept, none added.
    const again = await saveForkRecords(shortLogStore(), divergedFileOf(dir, 4, 20_001, KEYS), 20_000);
    assert.deepEqual(again, { file: saved.file, records: 0, keys: true, existing: true });
    assert.deepEqual(countDiverged(dir), { divergedRecords: 5000, divergedFiles: 1 });
  });
});
