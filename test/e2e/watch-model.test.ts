/**
 * Watch never misses the final state (docs/watch.md): a watcher that is disconnected, whose node is
 * restarted under it, and whose `from` has been compacted out of the log, ends with exactly the
 * keys and values the store holds, with every shard's events in increasing version order. Checked
 * against a model fed the same random writes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { parseVersion } from '../../src/routing/version.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const PREFIX = 'w/';
const KEYS = 24;

/** WatchModel applies a watch's events and checks their order. */
class WatchModel {
  readonly state = new Map<string, string>();
  readonly lastSeq = new Map<number, number>();
  snapshots = 0;
  events = 0;
  cursor = '';
  private readonly shardOf: (key: string) => number;
  constructor(shardOf: (key: string) => number) {
    this.shardOf = shardOf;
  }

  apply(ev: WatchChange): void {
    this.events++;
    this.cursor = ev.cursor;
    if (ev.type === 'snapshot-begin') {
      this.snapshots++;
      for (const k of [...this.state.keys()]) if (this.shardOf(k) === ev.shard) this.state.delete(k);
      return;
    }
    if (ev.type === 'snapshot-end') {
      this.lastSeq.set(ev.shard, parseVersion(ev.version!)!.seq);
      return;
    }
    assert.ok(ev.key!.startsWith(PREFIX), `event for ${ev.key!} outside the prefix`);
    assert.equal(this.shardOf(ev.key!), ev.shard, 'an event names the shard of its key');
    if (ev.snapshot !== true) {
      const seq = parseVersion(ev.version!)!.seq;
      const prev = this.lastSeq.get(ev.shard) ?? 0;
      assert.ok(seq > prev, `shard ${ev.shard}: event ${seq} after ${prev} (out of order)`);
      this.lastSeq.set(ev.shard, seq);
    }
    if (ev.type === 'put') this.state.set(ev.key!, ev.value!.toString('utf8'));
    else this.state.delete(ev.key!);
  }
}

/** Session is one run of `client.watch` feeding the model until stopped. */
class Session {
  private readonly stop = new AbortController();
  readonly done: Promise<void>;
  constructor(client: DistkvClient, model: WatchModel, from: string) {
    const events = client.watch(PREFIX, { from, signal: this.stop.signal });
    this.done = (async () => {
      try {
        for await (const ev of events) model.apply(ev);
      } catch (err) {
        if (!this.stop.signal.aborted) throw err;
      }
    })();
  }
  async close(): Promise<void> {
    this.stop.abort();
    await this.done;
  }
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

async function writeRandom(
  client: DistkvClient,
  rnd: () => number,
  n: number,
  valueBytes: number,
): Promise<void> {
  for (let i = 0; i < n; i += 8) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(n, i + 8); j++) {
      const r = rnd();
      const key = r < 0.15 ? `x/${Math.floor(rnd() * KEYS)}` : `${PREFIX}${Math.floor(rnd() * KEYS)}`;
      if (rnd() < 0.25) batch.push(client.delete(key));
      else batch.push(client.put(key, `${j}:${'v'.repeat(Math.floor(rnd() * valueBytes))}`));
    }
    await Promise.all(batch);
  }
}

async function storeState(client: DistkvClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const item of client.scan(PREFIX)) out.set(item.key, item.value.toString('utf8'));
  return out;
}

/** settle waits (bounded) until the model holds the store's state, and asserts it does. */
async function settle(client: DistkvClient, model: WatchModel): Promise<void> {
  const expected = await storeState(client);
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (sameMap(model.state, expected)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(Object.fromEntries([...model.state].sort()), Object.fromEntries([...expected].sort()));
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

describe('watch model check', () => {
  it('ends at the store state through a disconnect, a restart and a compacted-away from', async () => {
    const dir = tempDir(after);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    // Tiny segments, no retention and a tiny in-memory tail: the log forgets old records quickly.
    const config = writeConfig(
      dir,
      [{ address }, { address }],
      '[storage]\nmemtable_bytes = 65536\nwal_segment_bytes = 65536\nwal_retention_bytes = 0\nmax_runs = 2\n[replication]\nring_bytes = 65536\n',
    );
    const args = ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '2'];
    const health = `http://${address}/healthz`;
    let server = await ServerProcess.start(args, health, { DISTKV_LOG_LEVEL: 'warn' });
    const client = new DistkvClient({ urls: [address] });
    try {
      const map = await client.topology();
      const model = new WatchModel((k) => map.shardOf(k));
      const rnd = random(15);

      // 1. from the beginning, live.
      let session = new Session(client, model, '0.0');
      await writeRandom(client, rnd, 300, 20);
      await settle(client, model);

      // 2. disconnected while writes go on, then resumed from the cursor: the log still holds it.
      await session.close();
      const snapshotsBefore = model.snapshots;
      await writeRandom(client, rnd, 100, 20);
      session = new Session(client, model, model.cursor);
      await settle(client, model);
      assert.equal(model.snapshots, snapshotsBefore, 'a cursor the log holds resumes without a snapshot');

      // 3. the node restarts under a connected watcher: it reconnects and resumes by itself.
      await server.stop();
      server = await ServerProcess.start(args, health, { DISTKV_LOG_LEVEL: 'warn' });
      await writeRandom(client, rnd, 100, 20);
      await settle(client, model);

      // 4. disconnected while the log rolls far past its cursor: the resume is a snapshot.
      await session.close();
      const cursor = model.cursor;
      await writeRandom(client, rnd, 2500, 400);
      session = new Session(client, model, cursor);
      await writeRandom(client, rnd, 100, 20);
      await settle(client, model);
      assert.ok(model.snapshots > snapshotsBefore, 'a compacted-away cursor resumes with a snapshot');
      await session.close();
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
