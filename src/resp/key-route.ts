/**
 * Key routing for RESP commands: Redis Cluster's rules on distkv's shard map.
 *
 * A command's keys must all hash to one slot (else `-CROSSSLOT`); the slot's shard is then served
 * here when this process hosts its target, else the client is sent to the owner with
 * `-MOVED slot host:port` (the owner's RESP address). Writes, and reads on a connection that did
 * not send READONLY, target the shard's leader; after READONLY, reads target the listener's read
 * table (a replica hosted at this address if any), as Redis serves reads from replicas.
 * A slot that a peer's config gives another leader (src/server/slot-gate.ts) is refused first,
 * reads and writes, with `-TRYAGAIN`: Redis's reply for a slot that cannot be served right now
 * (during a resharding), which cluster clients retry after a pause. A slot whose owner did not
 * answer this node's last peer check is answered `-CLUSTERDOWN Hash slot not served`, as Redis
 * answers a slot no reachable node serves (docs/resp.md, "A node down"), and the peer check is
 * asked to look at that owner at once (`checkPeerSoon`), so that a leader that comes back is
 * served again within about a second rather than at the next peer round.
 */
import type { DistkvError } from '../errors.js';
import { slotOfBytes } from '../routing/slot.js';
import type { Target } from '../server/node-plan.js';
import { heldReadMessage, leaselessReadMessage, leaselessWriteMessage } from '../server/map-keeper.js';
import { redisEndpoint, respEndpointOf } from './resp-address.js';
import type { RespConnection } from './resp-connection.js';

/** LocalTarget is a store of this process. */
export type LocalTarget = Extract<Target, { local: true }>;

/**
 * checkKey returns why `key` is not a valid distkv key, or undefined. Keys are bytes (binary-safe,
 * as in Redis): a key that is not UTF-8 is the key HTTP names with its bytes percent-encoded.
 */
export function checkKey(key: Uint8Array, maxKeyBytes: number): string | undefined {
  if (key.length === 0) return 'ERR invalid key: distkv keys are 1 or more bytes';
  if (key.length > maxKeyBytes) return `ERR invalid key: ${key.length} bytes; limit is ${maxKeyBytes}`;
  return undefined;
}

/**
 * routeKey returns the local store serving the one key `key`, or writes the error reply (invalid
 * key, MOVED) and returns undefined. The path of every single-key command (GET, SET, ...).
 */
export function routeKey(c: RespConnection, key: Uint8Array, write: boolean): LocalTarget | undefined {
  const ctx = c.ctx;
  const bad = checkKey(key, ctx.config.server.max_key_bytes);
  if (bad !== undefined) {
    c.queue.now(c.proto).error(bad);
    return undefined;
  }
  return targetOf(c, slotOfBytes(key), write);
}

/**
 * routeKeys returns the local store serving the keys `args[first]`, `args[first + step]`, ... up to
 * `args[last]` (last < 0 counts from the end, as in COMMAND's key positions), or writes the error reply (invalid key, CROSSSLOT, MOVED) and returns undefined.
 */
export function routeKeys(
  c: RespConnection,
  args: readonly Buffer[],
  first: number,
  last: number,
  step: number,
  write: boolean,
): LocalTarget | undefined {
  const maxKeyBytes = c.ctx.config.server.max_key_bytes;
  let slot = -1;
  const end = last < 0 ? args.length + last : last;
  for (let i = first; i <= end; i += step) {
    const key = args[i]!;
    const bad = checkKey(key, maxKeyBytes);
    if (bad !== undefined) {
      c.queue.now(c.proto).error(bad);
      return undefined;
    }
    const s = slotOfBytes(key);
    if (slot >= 0 && s !== slot) {
      c.queue.now(c.proto).error("CROSSSLOT Keys in request don't hash to the same slot");
      return undefined;
    }
    slot = s;
  }
  return targetOf(c, slot, write);
}

/**
 * behindPrefix is the RESP error prefix of a held leader's refusal (`behindError`): -ERR while a
 * person must promote its replica (LEADER_BEHIND), -TRYAGAIN once it gave up its leader key for the
 * replica to take over by itself (SWITCHING_LEADER), which cluster clients retry.
 */
export function behindPrefix(behind: DistkvError): 'ERR' | 'TRYAGAIN' {
  return behind.code === 'SWITCHING_LEADER' ? 'TRYAGAIN' : 'ERR';
}

/**
 * targetOf returns the local store serving `slot`, or writes `-TRYAGAIN`, `-MOVED` or, when the
 * owner did not answer this node's last peer check (`downNodes`), `-CLUSTERDOWN`, and returns
 * undefined.
 */
function targetOf(c: RespConnection, slot: number, write: boolean): LocalTarget | undefined {
  const { config, shardMap, listener, slotGate } = c.ctx;
  if (slotGate?.disputed(slot) === true) {
    c.queue.now(c.proto).error(`TRYAGAIN ${slotGate.refusal(slot)!.message}`);
    return undefined;
  }
  const shard = shardMap.shardOfSlot(slot);
  const target = (write || !c.readonly ? listener.writes : listener.reads)[shard]!;
  const behind = target.local && target.role === 'leader' ? c.ctx.behindError?.(shard) : undefined;
  if (behind !== undefined) {
    // As over HTTP: a leader that started behind its replica serves nothing here (TRYAGAIN once it
    // gave up its leader key for the replica to take over).
    c.queue.now(c.proto).error(`${behindPrefix(behind)} ${behind.message}`);
    return undefined;
  }
  if (target.local && c.ctx.leaderWithoutLease(target.role, shard)) {
    // As over HTTP: a leader without its lease may have been replaced, so it answers neither reads
    // nor writes. The worker's fence refuses writes too, but only once the coordinator's next pass
    // has sent it: a write in between would be a second writer for the shard.
    c.queue
      .now(c.proto)
      .error(`TRYAGAIN ${write ? leaselessWriteMessage(shard) : leaselessReadMessage(shard)}`);
    return undefined;
  }
  if (target.local && !write && c.ctx.readsHeld?.(target.role, shard) === true) {
    // As over HTTP: a leader whose writes a failover holds may have been replaced (src/http/key-dispatch.ts).
    c.queue.now(c.proto).error(`TRYAGAIN ${heldReadMessage(shard)}`);
    return undefined;
  }
  if (target.local) return target;
  const e = respEndpointOf(target.address, config.server.resp_port_offset);
  const owner = e === undefined ? target.address : redisEndpoint(e);
  if (c.ctx.downNodes?.().has(target.address) === true) {
    // A -MOVED to a node that does not answer sends a cluster client there until it gives up on a
    // connection error (ioredis: "Too many Cluster redirections. Last error: Connection is
    // closed."); Redis answers a slot no reachable node serves with -CLUSTERDOWN, which clients
    // retry after refreshing their slots, so they carry on by themselves once the leader is back.
    c.queue.now(c.proto).error(`CLUSTERDOWN Hash slot not served: its owner ${owner} is unreachable`);
    // The owner may be back already: asked now, it is served again once it answers (not at the
    // next peer round, up to 2 s later, while every client retrying its keys got -CLUSTERDOWN).
    c.ctx.checkPeerSoon?.(target.address);
    return undefined;
  }
  c.queue.now(c.proto).error(`MOVED ${slot} ${owner}`);
  return undefined;
}
