/**
 * Freshness: what a follower can prove about how recent its copy is (follower.ts; lag.ts reads
 * what it publishes). Each answer of the leader carries its last seq L, read as it answered: the
 * follower remembers (time of the answer, L) as a sighting and, once its ack reaches L, knows that
 * at that time it held everything the leader had. `caughtUpAt` is the latest such time.
 */

/** MAX_SIGHTINGS bounds the remembered (time, leader seq) pairs; dropping the oldest only makes caughtUpAt older. */
const MAX_SIGHTINGS = 1024;

/** Freshness keeps one follower's sightings and its caughtUpAt (ms since the epoch; 0 = never). */
export class Freshness {
  /** caughtUpAt is the latest time at which the replica provably held all the leader had. */
  caughtUpAt = 0;
  /** sightings are leader seqs above the ack with the time they were seen, oldest first. */
  private sightings: { at: number; seq: number }[] = [];

  /** answered records an answer of the leader at `at`, with its last seq `leaderSeq`, after which the replica holds `ack`. */
  answered(at: number, leaderSeq: number, ack: number): void {
    if (ack >= leaderSeq) {
      // What `sight` then `reached` would do, without the arrays.
      this.caughtUpAt = at;
      if (this.sightings.length > 0) this.sightings = [];
      return;
    }
    this.sight(at, leaderSeq);
    this.reached(ack);
  }

  /** sight remembers that the leader's last seq was `seq` at time `at`. */
  sight(at: number, seq: number): void {
    const last = this.sightings[this.sightings.length - 1];
    if (last !== undefined && last.seq >= seq) return;
    this.sightings.push({ at, seq });
    if (this.sightings.length > MAX_SIGHTINGS) this.sightings.shift();
  }

  /** reached moves caughtUpAt to the latest sighting the replica's ack now covers. */
  reached(ack: number): void {
    let i = 0;
    while (i < this.sightings.length && this.sightings[i]!.seq <= ack) {
      this.caughtUpAt = Math.max(this.caughtUpAt, this.sightings[i]!.at);
      i++;
    }
    if (i > 0) this.sightings = this.sightings.slice(i);
  }

  /** forget drops all of it (the replica resyncs to another history). */
  forget(): void {
    this.sightings = [];
    this.caughtUpAt = 0;
  }
}
