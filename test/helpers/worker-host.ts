/**
 * A shard worker's stores for a test, without a thread: `testStoreSpec` describes one leader store
 * with small test sizes (for a `ShardHost` here, or a `WorkerPool` of real worker threads);
 * `openTestHost` opens a `ShardHost` over one LSM store on the calling thread and collects its
 * replies by request id (`openSpecHost` over a store of any spec, control replies too); `runOps` hands it one batch; `untilReplies` waits (bounded) for replies;
 * `storeWritesOver` is a worker's write path (StoreWrites) alone over the stores a test gives it.
 */
import { join } from 'node:path';
import type { FromWorker, StoreSpec } from '../../src/worker/messages.js';
import { ReplyReader, RequestWriter } from '../../src/worker/op-codec.js';
import { Positions } from '../../src/replication/positions.js';
import { ShardHost } from '../../src/worker/shard-host.js';
import type { Store } from '../../src/storage/store.js';
import type { Vfs } from '../../src/storage/vfs.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { StoreWrites } from '../../src/worker/store-writes.js';

/** HostReply is one reply the host sent, copied out of its buffer. */
export interface HostReply {
  status: number;
  seq: number;
  value: Buffer;
}

/**
 * TestHost is a ShardHost and the replies it has sent so far, by request id, in arrival order;
 * `answeredTwice` lists the ids it answered again (the main thread reuses an id once answered, so a
 * second answer reaches another request).
 */
export interface TestHost {
  host: ShardHost;
  replies: Map<number, HostReply>;
  answeredTwice: number[];
}

/** keepReplies is a `send` that keeps the op replies of `h` and its control replies in `control`. */
function keepReplies(
  h: Pick<TestHost, 'replies' | 'answeredTwice'>,
  control?: Map<number, FromWorker>,
): (msg: FromWorker) => void {
  return (msg) => {
    if (msg.type !== 'replies') {
      if ('id' in msg) control?.set(msg.id, msg);
      return;
    }
    const r = new ReplyReader(msg.buffer, msg.length);
    while (r.next()) {
      if (h.replies.has(r.id)) h.answeredTwice.push(r.id);
      h.replies.set(r.id, { status: r.status, seq: r.seq, value: Buffer.from(r.value) });
    }
  };
}

/**
 * testStoreSpec is store `index` (shard `index`, every slot), a leader in `dir`/node/shard-`index`
 * (so its worker's commit log is `dir`/log/w<N>, inside `dir`: src/worker/worker-stores.ts puts it
 * two levels above a store), with fsync durability and 1 MiB memtable, segments and retention.
 */
export function testStoreSpec(dir: string, index = 0, engine: StoreSpec['engine'] = 'lsm'): StoreSpec {
  return {
    index,
    shard: { idx: index, name: `shard-${index}`, first: 0, last: 16383 },
    role: 'leader',
    node: '127.0.0.1:1',
    dir: join(dir, 'node', `shard-${index}`),
    engine,
    durability: 'fsync',
    fsyncIntervalMs: 100,
    lsm: {
      memtableBytes: 1 << 20,
      maxRuns: 4,
      walSegmentBytes: 1 << 20,
      walRetentionBytes: 1 << 20,
      ringBytes: 1 << 20,
    },
    repair: false,
  };
}

/** orphanReplica is `spec` as a replica whose leader is gone (nothing listens on port 1): it follows no one. */
export function orphanReplica(spec: StoreSpec): StoreSpec {
  return {
    ...spec,
    role: 'replica',
    replication: {
      leaderAddress: '127.0.0.1:1',
      leaderStore: undefined,
      token: '',
      scheme: 'http',
      tlsCa: '',
      pullMaxBytes: 1 << 20,
      pullWaitMs: 100,
      configHash: 'test',
    },
  };
}

/**
 * openTestHost opens one LSM leader store (fsync durability: writes become visible to the store only
 * after fsync) in `dir`/node/shard, so its worker's commit log is `dir`/log/w0 (workerLogDir), not
 * a directory two levels above `dir` that other tests and processes share.
 */
export async function openTestHost(dir: string): Promise<TestHost> {
  const kept = { replies: new Map<number, HostReply>(), answeredTwice: [] as number[] };
  const host = await ShardHost.open(
    [testStoreSpec(join(dir, 'node', 'shard'))],
    new SharedArrayBuffer(Positions.bytesFor(1)),
    keepReplies(kept),
  );
  return { host, ...kept };
}

/** ControlHost is a ShardHost with its op replies and its replies to control messages, by id. */
export interface ControlHost extends TestHost {
  control: Map<number, FromWorker>;
}

/**
 * openSpecHost opens a ShardHost over the store `spec` (or the stores, indexes 0..n-1) on the
 * calling thread, keeping its op replies and control replies; its lsm stores on `vfs` (default:
 * the real file system).
 */
export async function openSpecHost(spec: StoreSpec | StoreSpec[], vfs?: Vfs): Promise<ControlHost> {
  const specs = Array.isArray(spec) ? spec : [spec];
  const kept = {
    replies: new Map<number, HostReply>(),
    answeredTwice: [] as number[],
    control: new Map<number, FromWorker>(),
  };
  const host = await ShardHost.open(
    specs,
    new SharedArrayBuffer(Positions.bytesFor(specs.length)),
    keepReplies(kept, kept.control),
    undefined,
    0,
    vfs,
  );
  return { host, ...kept };
}

/** runOps hands the host one batch of ops, written by `fill`. */
export function runOps(host: ShardHost, fill: (w: RequestWriter) => void): void {
  const w = new RequestWriter();
  fill(w);
  const { buffer, length } = w.take();
  host.handle({ type: 'ops', buffer, length });
}

/** untilReplies waits until every id in `ids` has a reply; fails naming the missing ones after 20 s. */
export async function untilReplies(replies: Map<number, HostReply>, ids: number[]): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!ids.every((id) => replies.has(id))) {
    if (Date.now() > deadline)
      throw new Error(`no reply for ${ids.filter((id) => !replies.has(id)).join(',')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * storeWritesOver is a StoreWrites over `stores` (store i leads shard i, in `dir`) without
 * replication, whose replies go to `replies` by op id (status and seq).
 */
export function storeWritesOver(
  dir: string,
  stores: readonly Store[],
  replies: Map<number, { status: number; seq: number }>,
): StoreWrites {
  const hosted = new Map(stores.map((store, i) => [i, { spec: testStoreSpec(dir, i, 'memory'), store }]));
  return new StoreWrites(
    hosted,
    new Positions(new SharedArrayBuffer(Positions.bytesFor(stores.length))),
    new ReplyBatch((msg) => {
      if (msg.type !== 'replies') return;
      const r = new ReplyReader(msg.buffer, msg.length);
      while (r.next()) replies.set(r.id, { status: r.status, seq: r.seq });
    }),
    () => {
      throw new Error('no replication here');
    },
  );
}
