/**
 * ResyncExactness: how far a replica rebuilt from a leader snapshot must replay its log before its
 * content is exact (follower.ts), kept across a restart by the resync marker (resync-marker.ts).
 *
 * A snapshot is fuzzy (snapshot-format.ts): until the replica has replayed the log through the
 * snapshot's exactSeq its content may mix states, so its follower stays `resyncing` (no freshness
 * claimed) until then. Once the replica reaches that seq the marker goes, or keeps only the
 * snapshot seq and the leader's epoch there (read only while the store's last seq is that seq).
 * A marker that says a load was under way when the replica stopped (`interrupted`) starts its
 * follower with a resync. Used only by its follower, on the follower's thread.
 */
import { rmSync } from 'node:fs';
import { writeDurableJson } from './durable-json.js';
import { readResyncMarker, snapshotEpochOf } from './resync-marker.js';
import type { LoadedSnapshot } from './snapshot-load.js';

/** ResyncExactness tracks one replica's exactSeq and its marker file (see above). */
export class ResyncExactness {
  /** interrupted: the marker says a snapshot load was under way when the replica last stopped. */
  readonly interrupted: boolean;
  /** marker is the resync marker's file (undefined: none is kept). */
  private readonly marker: string | undefined;
  /** exactFrom is, after a fuzzy snapshot, the seq the replica must reach before its content is exact; 0 otherwise. */
  private exactFrom: number;
  /** loaded is the last snapshot's seq and the leader's epoch there (kept in the marker; undefined when the leader sent none). */
  private loaded: { seq: number; epoch: number } | undefined;

  constructor(marker: string | undefined) {
    this.marker = marker;
    const read = readResyncMarker(marker);
    this.interrupted = read === 'loading';
    this.exactFrom = read === 'loading' ? 0 : read;
    this.loaded = snapshotEpochOf(marker);
  }

  /** exact says the replica's content is exact: no fuzzy snapshot is still being caught up on. */
  get exact(): boolean {
    return this.exactFrom === 0;
  }

  /** resynced records a finished load (loadSnapshot): exact from its exactSeq on. */
  resynced(done: Pick<LoadedSnapshot, 'exactSeq' | 'loaded'>): void {
    this.exactFrom = done.exactSeq;
    this.loaded = done.loaded;
  }

  /** reached records that the replica holds everything through `applied`; true once its content is exact. */
  reached(applied: number): boolean {
    if (this.exactFrom > 0 && applied >= this.exactFrom) {
      this.exactFrom = 0;
      this.settleMarker();
    }
    return this.exactFrom === 0;
  }

  /**
   * settleMarker updates the resync marker once the replica's content is exact: it goes, or keeps
   * only the snapshot seq and its epoch (read only while the store's last seq is that seq).
   */
  private settleMarker(): void {
    const marker = this.marker;
    if (marker === undefined) return;
    if (this.loaded === undefined) rmSync(marker, { force: true });
    else writeDurableJson(marker, this.loaded);
  }
}
