/**
 * An in-process leader/replica pair of LSM stores joined by a Follower over a LocalSource, for
 * replication tests without threads or HTTP. `pause()`/`resume()` stop and restart the follower.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Follower, type FollowerState } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm, type TestLsmOptions } from './lsm.js';

/** ReplicaPair is a leader store and a following replica store. */
export class ReplicaPair {
  leader!: LsmStore;
  replica!: LsmStore;
  state: FollowerState = 'starting';
  private follower: Follower | undefined;
  private readonly dir: string;
  private readonly opts: TestLsmOptions;

  private constructor(dir: string, opts: TestLsmOptions) {
    this.dir = dir;
    this.opts = opts;
  }

  static async open(dir: string, opts: TestLsmOptions = {}): Promise<ReplicaPair> {
    const p = new ReplicaPair(dir, opts);
    p.leader = await openTestLsm(join(dir, 'leader'), opts);
    p.replica = await openTestLsm(join(dir, 'replica'), opts);
    p.resume();
    return p;
  }

  resume(): void {
    const replicaDir = join(this.dir, 'replica');
    let rebuilt: LsmStore | undefined;
    this.follower = new Follower({
      source: new LocalSource(() => this.leader, 'test leader'),
      store: () => this.replica,
      rebuild: async () => {
        await this.replica.close();
        rmSync(replicaDir, { recursive: true, force: true });
        rebuilt = await openTestLsm(replicaDir, this.opts);
        return rebuilt;
      },
      reopen: async () => {
        await (rebuilt ?? this.replica).close();
        rebuilt = undefined;
        this.replica = await openTestLsm(replicaDir, this.opts);
        return this.replica;
      },
      publish: (p) => {
        this.state = p.state;
      },
      pullMaxBytes: 64 * 1024,
      pullWaitMs: 50,
    });
    this.follower.start();
  }

  async pause(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  /** caughtUp waits until the replica holds the leader's last seq (or throws after `ms`). */
  async caughtUp(ms = 20000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.replica.lastSeq() < this.leader.lastSeq()) {
      if (Date.now() > deadline)
        throw new Error(`replica at ${this.replica.lastSeq()}, leader at ${this.leader.lastSeq()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  resyncs(): number {
    return this.follower?.counters.resyncs ?? 0;
  }

  async close(): Promise<void> {
    await this.pause();
    await this.replica.close();
    await this.leader.close();
  }
}

/** dump returns every live key and value of a store, in order. */
export function dump(store: LsmStore): [string, string][] {
  const out: [string, string][] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(new Uint8Array(0), after, 5000);
    if (page.length === 0) return out;
    for (const e of page)
      out.push([Buffer.from(e.key).toString('latin1'), Buffer.from(e.value).toString('latin1')]);
    after = page[page.length - 1]!.key;
  }
}
