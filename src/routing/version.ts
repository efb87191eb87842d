/**
 * Key versions (docs/api.md, "Versions"): the version of a key is the (epoch, seq) of its last
 * write, written `E.S` (decimal epoch, dot, decimal seq), e.g. `0.1234`. HTTP sends it quoted as an
 * `ETag` and takes it back in `If-Match`; watch events and scans carry it unquoted.
 *
 * The store keeps only the seq of each entry; the epoch of a seq follows from the shard's epoch
 * history (src/routing/live-map.ts): the last epoch whose firstSeq is at or below it, else 0. The
 * epoch makes a version unique across a forced failover, where a new leader reuses seqs that the
 * old leader had given to writes nobody followed.
 */
import { type EpochStart, historyLine } from './live-map.js';

/** Version is a key's version: the epoch and seq of its last write. */
export interface Version {
  epoch: number;
  seq: number;
}

/** epochOfSeq returns the epoch whose leader wrote `seq`, given a shard's history (oldest first). */
export function epochOfSeq(history: readonly EpochStart[], seq: number): number {
  let epoch = 0;
  for (const h of historyLine(history)) {
    if (h.firstSeq > seq) break;
    epoch = h.epoch;
  }
  return epoch;
}

/** formatVersion writes a version as `E.S`. */
export function formatVersion(v: Version): string {
  return `${String(v.epoch)}.${String(v.seq)}`;
}

/**
 * parseVersion reads `E.S` (optionally in a pair of double quotes, as in an ETag), or returns
 * undefined. Both numbers are written as formatVersion writes them, without leading zeros: an
 * ETag is matched as text, so `00.05` is no version a node ever gave, not another way to write 0.5.
 */
export function parseVersion(text: string): Version | undefined {
  const m = /^("?)(0|[1-9]\d{0,9})\.(0|[1-9]\d{0,15})\1$/.exec(text.trim());
  if (!m) return undefined;
  const epoch = Number(m[2]);
  const seq = Number(m[3]);
  if (!Number.isSafeInteger(seq) || epoch > 0xffffffff) return undefined;
  return { epoch, seq };
}
