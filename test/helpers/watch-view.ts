/**
 * WatchView: a client-library watch (`kv.watch(prefix)`) applied to a map, as docs/watch.md tells a
 * watcher to ("Applying the events to a map ... ends at the store's state"), with what the watch
 * promises checked on every event: within a shard the changes' versions only grow (between
 * snapshots: a snapshot may restart a shard below a position a failover discarded), and no change
 * comes twice. The failover watch tests compare its map with the leader's store once writes stop.
 */
import type { DistkvClient } from '../../src/client/client.js';
import type { WatchChange } from '../../src/client/watch.js';
import { parseVersion } from '../../src/routing/version.js';
import { dumpAt, waitFor } from './failover-model.js';

/** WatchView follows one watch until `stop`. */
export class WatchView {
  /** map is the keys under the prefix as the events made them. */
  readonly map = new Map<string, string>();
  /** versions are the versions of the changes yielded (snapshot entries have none), in order. */
  readonly versions: string[] = [];
  /** puts are the put changes yielded, by version: `key=value`. */
  readonly puts = new Map<string, string>();
  /** problems lists every broken promise seen (a version not above the shard's last, a change twice). */
  readonly problems: string[] = [];
  /** snapshots counts the `snapshot-begin` events. */
  snapshots = 0;
  /** cursor is the last event's cursor. */
  cursor = '';
  /** streams lists the stream notices (onStream): `down NODE (reason)` and `up NODE`. */
  readonly streams: string[] = [];
  /** failure is what ended the watch other than `stop`, if anything. */
  failure: unknown;
  private readonly seen = new Set<string>();
  private readonly last = new Map<number, { epoch: number; seq: number }>();
  private readonly stopper = new AbortController();
  private readonly done: Promise<void>;

  constructor(client: DistkvClient, prefix: string, from?: string) {
    const it = client.watch(prefix, {
      signal: this.stopper.signal,
      progress: true,
      onStream: (n) => this.streams.push(`${n.state} ${n.node}${n.reason === '' ? '' : ` (${n.reason})`}`),
      ...(from === undefined ? {} : { from }),
    });
    this.done = (async () => {
      try {
        for await (const ev of it) this.apply(ev);
      } catch (err) {
        if (!this.stopper.signal.aborted) this.failure = err;
      }
    })();
  }

  /** has tells whether the view holds `key` with `value`. */
  has(key: string, value: string): boolean {
    return this.map.get(key) === value;
  }

  /** differences lists the keys on which the view and `want` disagree: [key, view's, want's]. */
  differences(want: ReadonlyMap<string, string>): [string, string | undefined, string | undefined][] {
    const keys = new Set([...this.map.keys(), ...want.keys()]);
    return [...keys]
      .filter((k) => this.map.get(k) !== want.get(k))
      .map((k) => [k, this.map.get(k), want.get(k)]);
  }

  /** check throws what ended the watch, if anything did. */
  check(): void {
    const f = this.failure;
    if (f !== undefined) throw f instanceof Error ? f : new Error(`the watch failed: ${JSON.stringify(f)}`);
  }

  /**
   * reaches waits (up to `ms`) until the view holds exactly what `node`'s store holds under
   * `prefix`; on a timeout it names the keys that still differ and the stream notices.
   */
  async reaches(node: string, prefix: string, what: string, ms = 30000): Promise<void> {
    let differ: unknown[] = [];
    await waitFor(
      `${what}: the watcher to hold ${node}'s state`,
      async () => {
        this.check();
        differ = this.differences(await prefixState(node, prefix));
        return differ.length === 0;
      },
      ms,
    ).catch((err: unknown) => {
      throw new Error(
        `${String(err)}; [key, watcher, store] ${JSON.stringify(differ.slice(0, 10))}; streams ${JSON.stringify(this.streams)}`,
      );
    });
  }

  /** stop ends the watch and waits for its loop. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.done;
  }

  private apply(ev: WatchChange): void {
    this.cursor = ev.cursor;
    if (ev.type === 'snapshot-begin') {
      // One shard in these tests: the snapshot replaces every key, and the shard starts afresh.
      this.snapshots++;
      this.map.clear();
      this.last.delete(ev.shard);
      return;
    }
    if (ev.type === 'snapshot-end' || ev.type === 'progress') return;
    const key = ev.key ?? '';
    if (ev.snapshot === true) {
      this.map.set(key, ev.value?.toString() ?? '');
      return;
    }
    const version = ev.version ?? '';
    const v = parseVersion(version);
    if (v === undefined) {
      this.problems.push(`a ${ev.type} of ${key} without a version`);
      return;
    }
    if (this.seen.has(`${ev.shard}:${version}`)) this.problems.push(`${version} (${key}) came twice`);
    this.seen.add(`${ev.shard}:${version}`);
    const prev = this.last.get(ev.shard);
    if (prev !== undefined && (v.seq <= prev.seq || v.epoch < prev.epoch))
      this.problems.push(`${version} (${key}) after ${prev.epoch}.${prev.seq} in shard ${ev.shard}`);
    this.last.set(ev.shard, v);
    this.versions.push(version);
    if (ev.type === 'put') {
      this.map.set(key, ev.value?.toString() ?? '');
      this.puts.set(version, `${key}=${ev.value?.toString() ?? ''}`);
    } else this.map.delete(key);
  }
}

/** prefixState is what `node`'s store holds under `prefix` (a full local scan: failover-model.ts dumpAt). */
export async function prefixState(node: string, prefix: string): Promise<Map<string, string>> {
  return new Map([...(await dumpAt(node))].filter(([k]) => k.startsWith(prefix)));
}
