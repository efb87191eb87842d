/**
 * Retention of a worker's commit log (docs/commit-log-format.md, "Retention"): which of its oldest
 * sealed segments no attached store needs any more, so the log (commit-log.ts) may delete them.
 *
 * A segment is needed for recovery while it holds a record of some store above that store's
 * durable seq (a store of the worker that could not open, `pinned`, needs every segment holding
 * its records), and for a replica while it holds a record at or above the store's retention seq
 * (`LogMember.retainFrom`), the latter honoured for at most `retentionBytes` of segments, newest
 * first. A store that closed with records above its durable seq (its last flush failed) still
 * needs the segments holding them until it is attached again (commit-log.ts). Only a run of
 * unneeded segments from the oldest one on is deleted: segments go oldest first, so numbers never
 * have gaps.
 */
import type { LogSegment } from './commit-log-index.js';
import type { LogMember } from './commit-log-member.js';

/** RetentionNeed is what retention asks of a store: a member, or a store that closed with unflushed records. */
export type RetentionNeed = Pick<LogMember, 'id' | 'durableSeq' | 'retainFrom'>;

/**
 * trimmable returns how many of the oldest segments of `all` (oldest first, the last one being
 * written and never counted) no member needs, per the rules above.
 */
export function trimmable(
  all: readonly LogSegment[],
  members: Iterable<RetentionNeed>,
  pinned: ReadonlySet<number>,
  retentionBytes: number,
): number {
  const sealed = all.length - 1;
  const wants = [...members].map((m) => ({ m, retain: m.retainFrom() }));
  // Newest first, so replica-only segments count against the budget newest first.
  const needed: boolean[] = [];
  let replicaBytes = 0;
  for (let i = sealed - 1; i >= 0; i--) {
    const s = all[i]!;
    let recovery = [...pinned].some((id) => s.stores.has(id));
    let replica = false;
    for (const { m, retain } of wants) {
      const r = s.stores.get(m.id);
      if (r === undefined) continue;
      if (r.last > m.durableSeq) recovery = true;
      else if (retain !== undefined && r.last >= retain) replica = true;
    }
    if (replica && !recovery) replicaBytes += s.bytes;
    needed[i] = recovery || (replica && replicaBytes <= retentionBytes);
  }
  let n = 0;
  while (n < sealed && needed[n] === false) n++;
  return n;
}
