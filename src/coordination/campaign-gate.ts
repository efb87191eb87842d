/**
 * CampaignGate: when a replica may campaign for a shard whose leader key is missing
 * (docs/failover.md, "Automatic failover with etcd").
 *
 * A missing key means "the leader is gone" only once the leader the map names has had its chance to
 * take it. After any change of the shard's map epoch (a planned failover, another node's campaign),
 * the new leader needs a tick to see the map and create its key, while the old leader lets its own
 * key go: a replica that campaigned at once would win that gap and undo the failover. So the clock
 * starts again with every map epoch, and a key not yet seen held by the map's own leader in this
 * epoch is given a whole TTL more (a leader that starts, or the target of a planned failover); one
 * seen held by it is campaigned for a tick after it went. That tick lets every live member publish
 * its seq as it is once the leader is gone (each publishes at its own tick, every TTL/4, and when
 * its watch sees the key go): the ranking (candidate-rank.ts) reads the published seqs, and one
 * published before the leader's last writes would let a replica behind a member that holds
 * acknowledged `w=1` writes win, starting the new epoch below them. A mass expiry (etcd lost its
 * data, or was unreachable for a TTL) takes every published seq at once; the campaigner lost its
 * lease then too, and ranks itself only under a lease held for a TTL (etcd-coordinator.ts).
 * A member seen publishing its seq and missing since is not counted as gone for
 * LAPSED_GRACE_TTLS TTLs (`waitsForLapsed`): its lease may have lapsed only because it was paused
 * or starved past the TTL (SIGSTOP, a loaded machine, a long GC), and it publishes again as soon as
 * it runs. Ranked without it, a replica behind it won and the `w=1` writes only it held went to its
 * divergence file (test/integration/campaign-lapsed-member.test.ts). A member that is down delays
 * the failover by that grace; the map's leader does not (its going is what the campaign is for).
 * When a wait is what holds a campaign back, the gate calls `wake` once it is over, so the
 * campaign comes then rather than at the next periodic reconcile.
 *
 * A process that has not seen the shard's key held since it started (a cold restart of every
 * member: the leases ran out while all were down, so etcd holds no leader key and no seq) knows
 * nothing of who holds what: a member it never heard from may be the one holding acknowledged
 * `w=1` writes, and the map's leader may only be restarting. So it does not campaign until every
 * member but the map's leader has published its seq since this process started (`unheard`; the
 * ranking then picks the most advanced of them, which holds every write a replica acknowledged),
 * or the key is seen held (the map's leader took it back). That wait has no time bound: a member
 * down for good is let go of by `distkv failover --force`, which names the new leader in the map.
 * The replica started first with the leader and the up-to-date replica 5 s behind it otherwise
 * led within ~2 s, and the writes it lacked went to the others' divergence files
 * (test/e2e/etcd-cold-restart-order.test.ts). A process that has seen the key held keeps the
 * rules above: it watched the members then, and one down all along is a second failure, beyond
 * the one a `w=1` write survives.
 * What this process sees in its first lease period (a TTL, rounded up to etcd's whole seconds,
 * and a tick, from its first look at etcd) counts for neither: members killed and restarted
 * within a TTL left their leader key and seqs under leases nobody renews, and an etcd that
 * restarts renews every lease's deadline, so a dead leader's key and a dead member's seq look
 * live until their lease runs out. Counted, the lagging replica started first took them for
 * the leader's key held and the up-to-date member heard, and led alone once they expired
 * (test/e2e/etcd-fast-restart-order.test.ts). A key or seq still there after that period was
 * renewed by a live member since.
 */

/** LAPSED_GRACE_TTLS is how many TTLs a member that stopped publishing still holds a campaign back. */
export const LAPSED_GRACE_TTLS = 3;

/** Watch is what the gate remembers of one shard. */
interface Watch {
  /** epoch is the map epoch the rest refers to. */
  epoch: number;
  /** heldByLeader tells whether the key was seen held by the map's leader in this epoch. */
  heldByLeader: boolean;
  /** absentSince is when the key was first seen missing in this epoch (undefined while held). */
  absentSince: number | undefined;
}

/** CampaignGate holds, per shard, what a replica has seen of its leader key; see the block above. */
export class CampaignGate {
  private readonly shards = new Map<number, Watch>();
  /** lastPublished holds, per shard, when each member was last seen publishing its seq (since this process started). */
  private readonly lastPublished = new Map<number, Map<string, number>>();
  /** heldSinceStart names the shards whose leader key this process has seen held, by any node, since it started. */
  private readonly heldSinceStart = new Set<number>();
  /** heardSinceStart holds, per shard, the members seen publishing a seq since this process started (`unheard`). */
  private readonly heardSinceStart = new Map<number, Set<string>>();
  /** firstLook is when this process first read the shard's keys (`staleWindow`). */
  private firstLook: number | undefined;
  /** waiting holds, per shard, the members `unheard` last named (for `waitChanged`). */
  private readonly waiting = new Map<number, string>();
  /** refused holds, per shard, the code that last kept this node's store from campaigning (for `refusalChanged`). */
  private readonly refused = new Map<number, string>();
  private readonly ttlMs: number;
  private readonly tickMs: number;
  private readonly wake: () => void;
  /** timer calls `wake` at `wakeAt` (performance.now() time), the earliest moment a wait ends. */
  private timer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;

  /** `wake` reconciles again (called when a wait that held a campaign back is over). */
  constructor(ttlMs: number, tickMs: number, wake: () => void = () => undefined) {
    this.ttlMs = ttlMs;
    this.tickMs = tickMs;
    this.wake = wake;
  }

  /** close cancels a pending wake. */
  close(): void {
    clearTimeout(this.timer);
    this.wakeAt = undefined;
  }

  /**
   * mayCampaign records what one reconcile saw of shard `idx` (map epoch, map leader, the key's
   * holder or undefined when missing) and tells whether a replica may campaign now.
   */
  mayCampaign(
    idx: number,
    seen: { epoch: number; leader: string; holder: string | undefined },
    now: number,
  ): boolean {
    const stale = this.staleWindow(now);
    let w = this.shards.get(idx);
    if (w?.epoch !== seen.epoch) {
      w = { epoch: seen.epoch, heldByLeader: false, absentSince: undefined };
      this.shards.set(idx, w);
    }
    if (seen.holder !== undefined) {
      // A key seen in the first lease period may be a dead leader's: not taken as held by it
      // (a tick, not a TTL, for the map's leader to take it back once it is gone) nor as held
      // since the start.
      if (!stale) this.heldSinceStart.add(idx);
      if (seen.holder === seen.leader && !stale) w.heldByLeader = true;
      w.absentSince = undefined;
      return false;
    }
    w.absentSince ??= now;
    const left = w.absentSince + (w.heldByLeader ? this.tickMs : this.ttlMs + this.tickMs) - now;
    if (left <= 0) return true;
    this.wakeIn(now, left);
    return false;
  }

  /**
   * restart forgets what was seen of shard `idx`'s key, so the next `mayCampaign` gives the map's
   * leader a whole TTL more to take it, as to a leader that starts. Called while that leader routes
   * with another config (config-peers.ts): it cannot hold this config's key then, and once it comes
   * back with this node's file it answers peer checks before its coordinator has taken the key or
   * published its seq; a key missing since long before let a replica campaign in that gap.
   */
  restart(idx: number): void {
    this.shards.delete(idx);
  }

  /**
   * waitsForLapsed records which members publish a seq for shard `idx` now (`published`) and tells
   * whether one seen publishing within the grace has stopped: the campaign waits for it. `leader`
   * (the map's) and `me` are not waited for.
   */
  waitsForLapsed(
    idx: number,
    published: readonly string[],
    leader: string,
    me: string,
    now: number,
  ): boolean {
    let seen = this.lastPublished.get(idx);
    if (seen === undefined) {
      seen = new Map();
      this.lastPublished.set(idx, seen);
    }
    for (const address of published) seen.set(address, now);
    if (!this.staleWindow(now)) {
      let heard = this.heardSinceStart.get(idx);
      if (heard === undefined) this.heardSinceStart.set(idx, (heard = new Set()));
      for (const address of published) heard.add(address);
    }
    let left = 0;
    for (const [address, at] of seen) {
      if (address === leader || address === me || published.includes(address)) continue;
      left = Math.max(left, at + LAPSED_GRACE_TTLS * this.ttlMs - now);
    }
    if (left <= 0) return false;
    this.wakeIn(now, left);
    return true;
  }

  /**
   * unheard names the members of shard `idx` (`members`, the map's leader and replicas) a campaign
   * waits for because this process has not seen the shard's key held since it started: each one
   * but the map's `leader` and `me` not seen publishing its seq since then (`waitsForLapsed`
   * records who publishes: call it first). Empty once the key was seen held. See the block above.
   */
  unheard(idx: number, members: readonly string[], leader: string, me: string): string[] {
    if (this.heldSinceStart.has(idx)) return [];
    const heard = this.heardSinceStart.get(idx);
    return members.filter((m) => m !== leader && m !== me && heard?.has(m) !== true);
  }

  /**
   * staleWindow tells whether `now` is within this process's first lease period: a key or seq
   * seen then may be a dead member's, under a lease granted before this process looked (see the
   * block above). The first call marks the first look.
   */
  private staleWindow(now: number): boolean {
    this.firstLook ??= now;
    const lease = Math.ceil(this.ttlMs / 1000) * 1000;
    if (now >= this.firstLook + lease + this.tickMs) return false;
    this.wakeIn(now, this.firstLook + lease + this.tickMs - now);
    return true;
  }

  /** heldSince tells whether this process has seen shard `idx`'s leader key held, by any node, since it started. */
  heldSince(idx: number): boolean {
    return this.heldSinceStart.has(idx);
  }

  /** waitChanged records `members` as whom shard `idx`'s campaign waits for now and tells whether the last call named others. */
  waitChanged(idx: number, members: readonly string[]): boolean {
    const now = members.join(', ');
    if ((this.waiting.get(idx) ?? '') === now) return false;
    this.waiting.set(idx, now);
    return true;
  }

  /** refusalChanged records `code` as what keeps shard `idx`'s store here from campaigning now (undefined: nothing) and tells whether the last call said otherwise. */
  refusalChanged(idx: number, code: string | undefined): boolean {
    if (this.refused.get(idx) === code) return false;
    if (code === undefined) this.refused.delete(idx);
    else this.refused.set(idx, code);
    return true;
  }

  /** wakeIn calls `wake` `ms` after `now`, unless a wake is due by then. */
  private wakeIn(now: number, ms: number): void {
    if (this.wakeAt !== undefined && this.wakeAt <= now + ms) return;
    clearTimeout(this.timer);
    this.wakeAt = now + ms;
    this.timer = setTimeout(() => {
      this.wakeAt = undefined;
      this.wake();
    }, ms + 1);
    this.timer.unref();
  }
}
