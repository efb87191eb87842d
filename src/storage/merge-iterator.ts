/**
 * mergeNewest: a k-way merge of sorted sources where, for a key present in several sources, the
 * version from the earliest source in the list wins (sources are passed newest first). Used by
 * scans (memtables, runs, LMDB) and by compaction (runs). Tombstones (value null) are yielded; the
 * caller decides whether to hide or apply them.
 */

/** Versioned is a key's version as the levels hold it: its seq, value (null = tombstone) and expiry (0 or absent = none). */
export interface Versioned {
  seq: number;
  value: Buffer | null;
  expiresAtMs?: number;
}

/** isLive tells whether a version is a value that has not expired at `nowMs`. */
export function isLive(v: Versioned, nowMs: number): v is Versioned & { value: Buffer } {
  return v.value !== null && (v.expiresAtMs === undefined || v.expiresAtMs === 0 || v.expiresAtMs > nowMs);
}

/** mergeNewest yields each distinct key once, in ascending order, with its newest version. */
export function* mergeNewest(
  sources: Iterator<[string, Versioned]>[],
): IterableIterator<[string, Versioned]> {
  const heads: ([string, Versioned] | undefined)[] = sources.map((s) => {
    const r = s.next();
    return r.done === true ? undefined : r.value;
  });
  for (;;) {
    let min: string | undefined;
    for (const h of heads) if (h !== undefined && (min === undefined || h[0] < min)) min = h[0];
    if (min === undefined) return;
    let winner: Versioned | undefined;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h?.[0] !== min) continue;
      winner ??= h[1];
      const r = sources[i]!.next();
      heads[i] = r.done === true ? undefined : r.value;
    }
    yield [min, winner!];
  }
}
