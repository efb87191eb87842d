/**
 * WAIT: how many replicas hold this connection's writes (INFO and CLIENT UNBLOCK report and end
 * its wait: `blocked`, `unblock`). It starts once the connection's earlier replies are complete
 * (readAtHead), so the writes pipelined before it are acknowledged and counted; with no write of
 * its own it waits for the current seq of each leader store this node serves (served-stores.ts).
 * Its waits reach the workers in slices (`waitAcks`), so the WAIT of a client that hung up ends
 * within a slice.
 *
 * A node that leads no shard and replicates some (a replica in CLUSTER NODES and INFO: masterOf)
 * answers Redis's error for WAIT on a replica, before reading the arguments as Redis does: no write
 * can be made there, so it has nothing to wait for (it answered 0, which reads as "no replica holds
 * your writes"). A node that leads shards waits for those; one that leads none and replicates none
 * (a master without slots) answers 0, as a Redis master without replicas.
 */
import { masterOf } from './commands-cluster.js';
import { servedStores } from './served-stores.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';
import { OP_WAIT, ST_DONE } from '../worker/op-format.js';
import { parseInt64 } from '../worker/read-modify-write.js';

const NOT_INTEGER = 'ERR value is not an integer or out of range';
/** UNBLOCKED is a WAIT's answer when CLIENT UNBLOCK id ERROR ended it (redis-server 7.0's words). */
const UNBLOCKED = 'UNBLOCKED client unblocked via CLIENT UNBLOCK';
/** ON_REPLICA is redis-server 7.0's answer to WAIT on a replica, word for word. */
export const ON_REPLICA =
  'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.';
/** MAX_WAIT_MS caps WAIT's timeout (0 = "forever" in Redis) to what a timer can hold. */
const MAX_WAIT_MS = 2 ** 31 - 1;
/** WAIT_SLICE_MS is the longest wait WAIT leaves with a worker at once (waitAcks). */
const WAIT_SLICE_MS = 1000;

/**
 * wait: WAIT numreplicas timeout. Answers how many replicas hold every write this connection made
 * (per store: the seq of its last acknowledged write; with none, each served store's current seq),
 * once `numreplicas` do (0 or less: at once) or after `timeout` ms (0 = no limit), like a `w=N` write.
 * It starts once the connection's earlier replies are complete, so the writes before it count.
 */
export function wait(c: RespConnection, args: Buffer[]): void {
  const address = c.ctx.listener.address;
  const shards = c.ctx.liveShards();
  if (!shards.some((s) => s.address === address) && masterOf(address, shards) !== undefined) {
    c.queue.now(c.proto).error(ON_REPLICA);
    return;
  }
  const wanted = parseInt64(args[1]!.toString('latin1'));
  const given = parseInt64(args[2]!.toString('latin1'));
  if (wanted === undefined || given === undefined || given < 0n) {
    const why = given === undefined ? 'not an integer or out of range' : 'negative';
    c.queue.now(c.proto).error(wanted === undefined ? NOT_INTEGER : `ERR timeout is ${why}`);
    return;
  }
  const n = wanted < 0n ? 0 : Number(wanted < 255n ? wanted : 255n);
  const timeout = Number(given < BigInt(MAX_WAIT_MS) ? given : BigInt(MAX_WAIT_MS));
  const p = c.queue.later(c.proto, () => undefined);
  // Once the replies before it are complete, so the writes pipelined before WAIT are acknowledged
  // and counted (read at once, a new connection's WAIT waited for the seq before its own SET).
  c.readAtHead(p, () => {
    waitAcks(c, p, n, timeout);
  });
}

/**
 * waitAcks sends WAIT's seqs to the stores' workers and answers at `p` with the fewest acks.
 *
 * A store's wait goes to its worker in slices of at most WAIT_SLICE_MS, each sent again while
 * fewer replicas than `n` hold the seq, the timeout has not passed and the client has not hung up. A
 * worker cannot be told that a client went away: one wait of the whole timeout (24 days for
 * `WAIT n 0`) outlived its connection, so clients that time out and reconnect while a replica is
 * down piled up waiters (and `blocked_clients`) without bound. Now the WAIT of a client that closed
 * the connection (or shut down its side) ends within a slice.
 */
function waitAcks(c: RespConnection, p: Pending, n: number, timeout: number): void {
  const { pool } = c.ctx;
  const waits: [number, number][] =
    c.lastWrites.size > 0
      ? [...c.lastWrites]
      : servedStores(c)
          .filter((t) => t.role === 'leader')
          .map((t) => [t.store, pool.lastSeq(t.store)]);
  if (waits.length === 0) {
    c.queue.completeWith(p, (w) => {
      w.integer(0);
    });
    return;
  }
  let remaining = waits.length;
  let least = Infinity;
  let ended = false;
  const release = (): void => {
    ended = true;
    c.ctx.stats.blocked--;
    c.blocked = false;
    c.unblock = undefined;
  };
  c.ctx.stats.blocked++;
  c.blocked = true;
  // CLIENT UNBLOCK: with ERROR the UNBLOCKED error; else, as a timeout, the replicas that hold
  // the seqs now (each store asked once more with n = 0, answered at once).
  c.unblock = (error) => {
    release();
    if (error) {
      c.queue.completeWith(p, (w) => {
        w.error(UNBLOCKED);
      });
      return;
    }
    let left = waits.length;
    let now = Infinity;
    for (const [store, seq] of waits)
      waitStore(
        c,
        store,
        seq,
        0,
        Date.now(),
        () => true,
        (acked) => {
          now = Math.min(now, acked);
          if (--left === 0)
            c.queue.completeWith(p, (w) => {
              w.integer(now);
            });
        },
      );
  };
  const deadline = Date.now() + (timeout === 0 ? MAX_WAIT_MS : timeout);
  // A stopping node answers with the replicas that hold the seqs then: its workers answer the
  // slice parked at once (src/worker/replica-waits.ts), and the stop waits for the reply.
  const over = (): boolean => ended || c.hungUp || c.ctx.draining();
  for (const [store, seq] of waits)
    waitStore(c, store, seq, n, deadline, over, (acked, last) => {
      if (ended || !last) return;
      least = Math.min(least, acked);
      if (--remaining > 0 && !c.hungUp) return;
      release();
      c.queue.completeWith(p, (w) => {
        w.integer(least);
      });
    });
}

/**
 * waitStore waits in slices (see waitAcks) until `n` replicas of `store` hold `seq`, `deadline`
 * or `over()`, and calls `report` with their count after each slice (`last` after the final one).
 */
function waitStore(
  c: RespConnection,
  store: number,
  seq: number,
  n: number,
  deadline: number,
  over: () => boolean,
  report: (acked: number, last: boolean) => void,
): void {
  const { plan, pool } = c.ctx;
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeDoubleLE(seq, 0);
  const slice = (): void => {
    pool.submit(
      plan.stores[store]!.worker,
      OP_WAIT,
      store,
      '',
      seqBytes,
      {
        onReply: (status, acked) => {
          const count = status === ST_DONE ? acked : 0;
          const last = count >= n || over() || Date.now() >= deadline || status !== ST_DONE;
          report(count, last);
          if (!last) slice();
        },
      },
      n,
      Math.max(1, Math.min(WAIT_SLICE_MS, deadline - Date.now())),
    );
  };
  slice();
}
