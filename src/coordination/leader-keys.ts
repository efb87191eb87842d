/**
 * LeaderKeys: the shards' leader keys this process holds, and whether it may write a shard now
 * (docs/failover.md, "Automatic failover with etcd").
 *
 * A leader store takes writes only while this process holds its shard's leader key under its
 * current lease and before that lease's deadline (`mayWrite`, checked by the main thread on every
 * write). A key counts only under the lease it was taken with: a campaign whose lease ended while
 * it promoted must not count once a keepalive gets a new lease (the key went with the old one).
 *
 * For a shard the map says this node leads, `keep` keeps its key or takes it: when there is none,
 * or it is this node's under an earlier lease of this process's (it expired), or, before the first
 * reconcile is done, under a process gone since (it held the port and the data directory's lock).
 * Later, a key of this node's under a lease this process never had is another live process running
 * as this node (`--listen`, another data directory): never taken back, or both lead in one epoch,
 * each retaking the key from the other. For a shard the map says another node leads, `letGo`
 * deletes the key this process holds, and with it the writes.
 */
import type { IKeyValue } from 'etcd3';
import type { Logger } from 'pino';
import type { LiveShard } from '../routing/live-map.js';
import type { EtcdKeyspace } from './etcd-keyspace.js';
import type { ProcessLease } from './process-lease.js';

/** LeaderKeys tracks the leader keys this process holds; see the design block above. */
export class LeaderKeys {
  /** held maps each shard whose leader key this process took to the lease it took it under. */
  private readonly held = new Map<number, string>();
  private readonly keys: EtcdKeyspace;
  private readonly lease: ProcessLease;
  private readonly log: Logger;

  constructor(keys: EtcdKeyspace, lease: ProcessLease, log: Logger) {
    this.keys = keys;
    this.lease = lease;
    this.log = log;
  }

  /** mayWrite tells whether this process may execute writes to shard `idx` as its leader now. */
  mayWrite(idx: number): boolean {
    const under = this.held.get(idx);
    return under !== undefined && under === this.lease.id && this.lease.valid();
  }

  /** take counts this process as the holder of `shard`'s leader key, taken under `lease`. */
  take(shard: LiveShard, node: string, lease: string): void {
    if (!this.held.has(shard.idx))
      this.log.info(
        { shard: shard.name, node, epoch: shard.epoch },
        `${node} holds the leader key of ${shard.name}`,
      );
    this.held.set(shard.idx, lease);
  }

  /** forgetAll stops counting every key: the lease they were under is gone. */
  forgetAll(): void {
    this.held.clear();
  }

  /**
   * keep keeps or takes the leader key `kv` (undefined: missing) of `shard`, which the map says
   * `node` leads; resolves with the key's revision when this process holds it under `lease`, else
   * undefined. `started`: the first reconcile is done (see the design block above).
   */
  async keep(
    shard: LiveShard,
    node: string,
    kv: IKeyValue | undefined,
    lease: string,
    started: boolean,
  ): Promise<string | undefined> {
    const holder = kv?.value.toString();
    if (kv !== undefined && holder === node && kv.lease === lease) return kv.mod_revision;
    if (kv === undefined || (holder === node && (!started || this.lease.own(kv.lease))))
      return this.keys.putLeader(shard.name, node, lease, kv?.mod_revision);
    if (holder === node && this.held.has(shard.idx))
      this.log.error(
        { shard: shard.name, node },
        `another process running as ${node} took the leader key of ${shard.name}: this one stops leading it`,
      );
    this.held.delete(shard.idx);
    return undefined;
  }

  /**
   * resign deletes `shard`'s leader key `kv` when it names `node` and this process may hold it (the
   * cases `keep` would keep or take it in; never a live twin's), and stops counting it: the shard's
   * leader here is held behind a replica (behind-resign.ts). Resolves with whether it deleted one.
   */
  async resign(
    shard: LiveShard,
    node: string,
    kv: IKeyValue | undefined,
    lease: string,
    started: boolean,
  ): Promise<boolean> {
    this.held.delete(shard.idx);
    if (kv === undefined || kv.value.toString() !== node) return false;
    if (kv.lease !== lease && started && !this.lease.own(kv.lease)) return false;
    await this.keys.dropLeader(shard.name, kv.mod_revision);
    return true;
  }

  /**
   * letGo deletes `shard`'s leader key `kv` when this process holds it under `lease` (the map names
   * another leader now: a planned failover) and stops counting it at once, so a later map naming
   * this node again does not find it still writing; resolves with whether it held the key.
   */
  async letGo(shard: LiveShard, node: string, kv: IKeyValue | undefined, lease: string): Promise<boolean> {
    if (kv === undefined || kv.value.toString() !== node || kv.lease !== lease) return false;
    this.held.delete(shard.idx);
    await this.keys.dropLeader(shard.name, kv.mod_revision);
    return true;
  }
}
