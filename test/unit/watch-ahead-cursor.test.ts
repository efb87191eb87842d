/**
 * A watch started from a position its shard's history does not hold, ahead of it (docs/watch.md,
 * "Resuming"): a cursor whose seq is past the log's end in the same epoch (hand-made, kept from
 * before a restore, or the store was rebuilt under a running stream), or whose epoch is newer than
 * the one the history gives its seq. The shard gets a snapshot, and every cursor sent before the
 * snapshot ends must resume into a replay or a snapshot again: the log may have passed the ahead
 * position by the time the client resumes, and going on after it skipped the changes between the
 * snapshot's position and it, so the client did not end with the store's state. On one replica
 * shard's log in memory (test/helpers/watch-node.ts), an EventSource-like client cut after a given
 * SSE frame resumes from the last id it holds; and the client library's positions
 * (src/client/watch-decode.ts) after a snapshot-begin. A cursor past the end of a replica's log in
 * the same epoch is not ahead but the replica behind, which waits for it instead
 * (test/unit/watch-behind-replica.test.ts): the starts past the end here are at a leader.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WatchEvents, type ServerEvent, type WatchChange } from '../../src/client/watch-decode.js';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { type ShardSource, Watcher } from '../../src/watch/watcher.js';
import { applyEvents, PagedNode, sleep, SRC, SseOutput, sseFrames } from '../helpers/watch-node.js';

/** LEADER is the shard's leader store: a cursor past its log's end is ahead of its history. */
const LEADER: ShardSource = { ...SRC, role: 'leader' };

/** Client is an EventSource-like client: its map, the last id it holds, its current stream. */
class Client {
  readonly state = new Map<string, string>();
  cursor: string;
  private out = new SseOutput();
  private w: Watcher | undefined;
  private readonly node: PagedNode;
  readonly log: string[] = [];
  private readonly src: ShardSource;

  constructor(node: PagedNode, cursor: string, src: ShardSource = LEADER) {
    this.node = node;
    this.cursor = cursor;
    this.src = src;
  }

  connect(): void {
    this.out = new SseOutput();
    this.w = new Watcher([this.src], this.node, this.out, {
      prefix: Buffer.alloc(0),
      values: true,
      maxBuffer: 1 << 20,
    });
    this.log.push(`connect ${this.cursor}`);
    this.w.start(new Map([[0, startOf(parseFrom(this.cursor), 0)]]), {});
  }

  /** cut loses the stream after its first `keep` frames (all when undefined), applies them and holds their last id. */
  cut(keep?: number): void {
    this.w?.close();
    const all = sseFrames(this.out.text(), this.cursor);
    const kept = all.slice(0, keep ?? all.length);
    applyEvents(
      this.state,
      kept.flatMap((f) => (f.event === undefined ? [] : [f.event])),
    );
    this.log.push(
      `cut after ${kept.length}/${all.length}: ${kept.map((f) => `${JSON.stringify(f.event)} id:${f.id}`).join(' ')}`,
    );
    const last = kept[kept.length - 1];
    if (last !== undefined) this.cursor = last.id;
  }

  /** finish resumes and takes everything until the stream is idle, then checks the client's map is the store's. */
  async finish(): Promise<void> {
    this.connect();
    await sleep(80);
    this.cut();
    assert.deepEqual(
      [...this.state].sort(),
      [...this.node.log.state()].sort(),
      `the client's state is not the store's\n${this.log.join('\n')}`,
    );
  }
}

/** seeded is a node whose log holds a=1, b=1, c=1 (seqs 1..3, epoch 0). */
function seeded(): PagedNode {
  const node = new PagedNode(1);
  for (const k of ['a', 'b', 'c']) node.log.append(k, '1');
  return node;
}

/** moreWrites writes four changes (seqs 4..7): the log passes position 6. */
function moreWrites(node: PagedNode): void {
  node.log.append('b', '2');
  node.log.append('c', '2');
  node.log.append('d', '1');
  node.log.append('e', '1');
}

describe('watch from a position ahead of the shard log', () => {
  it('a resume from a snapshot entry of a cursor ahead of the log ends at the store state', async () => {
    const node = seeded();
    const client = new Client(node, '0:0.6');
    client.connect();
    await sleep(40);
    // hello, snapshot-begin, the first snapshot entry: the connection drops there
    client.cut(3);
    moreWrites(node);
    await client.finish();
  });

  it('a resume from hello of a cursor ahead of the log ends at the store state', async () => {
    const node = seeded();
    const client = new Client(node, '0:0.6');
    client.connect();
    await sleep(40);
    client.cut(1);
    moreWrites(node);
    await client.finish();
  });

  it('a cursor one past the log end gets a snapshot even when that seq is written before the first read', async () => {
    const node = seeded();
    const client = new Client(node, '0:0.4');
    client.connect();
    // before the stream's first read of the log (it is made in a later turn)
    node.log.append('x', '1');
    await sleep(40);
    client.cut();
    assert.ok(
      client.log.some((l) => l.includes('snapshot-begin')),
      `no snapshot for a cursor past the log's end\n${client.log.join('\n')}`,
    );
    await client.finish();
  });

  it('a stream whose store is rebuilt below its position: a resume from its snapshot entries ends at the store state', async () => {
    const node = seeded();
    node.log.append('d', '1');
    node.log.append('e', '1');
    node.log.append('f', '1');
    const client = new Client(node, '0:0.6', SRC);
    client.connect();
    await sleep(40);
    client.cut();
    assert.equal(client.cursor, '0:0.6');
    client.connect();
    await sleep(20);
    // The store is restored to its state at seq 3 (same epoch): the stream is past its end.
    node.log.resync(3, node.log.stateAt(3));
    await sleep(1200);
    const seen = sseFrames((client as unknown as { out: SseOutput }).out.text(), client.cursor);
    const begin = seen.findIndex((f) => f.event?.type === 'snapshot-begin');
    assert.ok(begin >= 0, `no snapshot after the rebuild\n${JSON.stringify(seen)}`);
    client.cut(begin + 2);
    moreWrites(node);
    await client.finish();
  });

  it('a cursor of a newer epoch than the history gives its seq: a resume from its snapshot survives a failover to that epoch', async () => {
    const node = seeded();
    // the client names epoch 1 at seq 2; the history here holds seq 2 in epoch 0
    const client = new Client(node, '0:1.2', SRC);
    client.connect();
    await sleep(40);
    client.cut(3);
    // A failover starts epoch 1 at seq 2: the replica is rebuilt at seq 1, and epoch 1 writes on.
    node.log.epochStarts.push([1, 2]);
    node.log.resync(1, node.log.stateAt(1));
    moreWrites(node);
    await client.finish();
  });
});

describe('client library positions in a snapshot', () => {
  it('from snapshot-begin to snapshot-end the cursor resumes into a replay or a snapshot, not after the old position', () => {
    const got: WatchChange[] = [];
    const events = new WatchEvents(
      true,
      (c) => got.push(c),
      () => undefined,
    );
    const accept = (ev: ServerEvent): void => {
      events.accept(ev);
    };
    events.positions.set(0, 0, 6, '0.6');
    accept({ type: 'hello', cursor: '0:0.0' });
    assert.equal(events.positions.cursor(), '0:0.0', "hello's position is where the stream starts");
    events.positions.set(0, 0, 6, '0.6');
    accept({ type: 'snapshot-begin', shard: 0, version: '0.3' });
    accept({ type: 'put', shard: 0, key: 'a', value: '1', snapshot: true });
    assert.equal(got[1]!.cursor, '0:0.0');
    accept({ type: 'snapshot-end', shard: 0, version: '0.3', cursor: '0:0.3' });
    assert.equal(got[2]!.cursor, '0:0.3');
  });
});
