/**
 * FailoverFences: the holds an operator's planned failover places on a leader's writes here
 * (`MapKeeper.fence`, docs/failover.md "Planned failover"). While a shard is held its writes are
 * answered 503 SWITCHING_LEADER (MapKeeper.writesFenced), so the old leader takes no write its
 * successor has not copied.
 *
 * Invariants: a shard has at most one hold; an owner (`by`) and an end are kept only for a held
 * shard. A hold ends by itself after its `ms` unless released first or dropped by a map that moves
 * the shard's leader (`drop`); a hold that runs out is logged and its `onExpire` releases what else
 * holds the writes (the store's worker).
 *
 * Owned by the main thread's MapKeeper; nothing else writes it.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';

/** FailoverFences holds, per shard, the write hold of the failover that took it. */
export class FailoverFences {
  private readonly log: Logger;
  private readonly fenced = new Set<number>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** owners names, per held shard, the failover that holds it (`set`'s `by`). */
  private readonly owners = new Map<number, string>();
  /** ends is when each shard's hold runs out (performance.now()), for the messages. */
  private readonly ends = new Map<number, number>();

  constructor(log: Logger) {
    this.log = log;
  }

  /** has tells whether writes to shard `idx` are held for a failover. */
  has(idx: number): boolean {
    return this.fenced.has(idx);
  }

  /** ownerOf names the failover holding shard `idx`'s writes, if one holds them and named itself. */
  ownerOf(idx: number): string | undefined {
    return this.fenced.has(idx) ? this.owners.get(idx) : undefined;
  }

  /**
   * set holds (or releases) writes to shard `idx` for a planned failover; returns whether it
   * acted (the caller then holds or releases the store's worker too). A hold ends by itself after
   * `ms` unless released or moved by a new map first; `onExpire` then releases what else holds the
   * writes (the store's worker).
   *
   * `by` names the failover that holds it: while it does, a hold or release by another is refused
   * (MAP_CHANGED), so of two failovers at once only one goes on (the other changed nothing).
   * Before, a second hold was taken as the first, both commands promoted their own targets and two
   * leaders took writes at one map version (test/e2e/failover-concurrent.test.ts). A release named
   * by a failover when no hold is left (it ran out, or a map moved the shard) changes nothing and
   * returns `false`: the store's worker may be fenced by the coordinator, or be a replica now. A
   * call without `by` (an operator's own release) acts whoever holds it.
   */
  set(idx: number, on: boolean, ms: number, onExpire: () => void, by?: string): boolean {
    const owner = this.owners.get(idx);
    if (by !== undefined && this.fenced.has(idx) && owner !== by) {
      const left = this.ends.get(idx);
      throw new DistkvError(
        'MAP_CHANGED',
        `writes to shard ${idx} are held by another failover (${owner ?? 'unnamed'}${left === undefined ? '' : ` for ${Math.ceil(left - performance.now())} ms more`}): it moves the leader or releases them (at the latest when its hold runs out); nothing was changed, run it again after if still needed`,
      );
    }
    if (!on && by !== undefined && !this.fenced.has(idx)) return false;
    clearTimeout(this.timers.get(idx));
    this.timers.delete(idx);
    this.owners.delete(idx);
    this.ends.delete(idx);
    if (on) {
      this.fenced.add(idx);
      if (by !== undefined) this.owners.set(idx, by);
      this.ends.set(idx, performance.now() + ms);
      const timer = setTimeout(() => {
        this.timers.delete(idx);
        this.owners.delete(idx);
        this.ends.delete(idx);
        if (!this.fenced.delete(idx)) return;
        this.log.warn(
          { shard: idx, ms },
          `writes to shard ${idx} released: the failover that held them did not finish within ${ms} ms`,
        );
        onExpire();
      }, ms);
      timer.unref();
      this.timers.set(idx, timer);
    } else this.fenced.delete(idx);
    this.log.info(
      { shard: idx, fenced: on },
      on ? `writes to shard ${idx} held for a failover` : `writes to shard ${idx} released`,
    );
    return true;
  }

  /**
   * drop ends shard `idx`'s hold because a new map moved its leader: nothing is logged and
   * `onExpire` never runs (the timer, left to run out, finds no hold).
   */
  drop(idx: number): void {
    this.fenced.delete(idx);
    this.owners.delete(idx);
    this.ends.delete(idx);
  }
}
