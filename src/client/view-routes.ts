/**
 * The routing table a client takes from a node's `/cluster` (topology.ts): checked before it is
 * adopted, since the node may be broken (a bug, an older or newer build) or not what it claims.
 * Its shards must be numbered 0..n-1, each with a name, a leader address and replica addresses
 * ("host:port"), and slot ranges within 0..16383 that together give every slot exactly one owner;
 * its `version` a string and its `map_version` (when present) a non-negative integer.
 *
 * Before, a view with a shard without a leader threw a bare TypeError from the load, one whose
 * slots left a gap a plain Error ("ShardMap: slot 101 has no shard") and one numbering its shards
 * otherwise a RangeError at the first request, none naming the node; one whose ranges overlapped,
 * or ran past the last slot, was taken, the later shard winning the slots they share. Now the
 * node's answer is refused (the load asks the next node) with an error naming the node and what is
 * wrong.
 */
import { DistkvError } from '../errors.js';
import { SLOT_COUNT } from '../routing/slot.js';
import { ShardMap } from '../routing/shard-map.js';
import type { ClusterView } from './types.js';

/** MAX_PROBLEMS is how many problems one error lists (a view of garbage would have thousands). */
const MAX_PROBLEMS = 5;

/** viewRoutes returns the routing table of `doc`, the `/cluster` of `node`, or throws INTERNAL naming it and what is wrong. */
export function viewRoutes(doc: ClusterView, node: string): ShardMap {
  const problems: string[] = [];
  const d = doc as unknown as Record<string, unknown>;
  if (typeof d.version !== 'string') problems.push(`"version" is ${describe(d.version)}, not a string`);
  const mv = d.map_version;
  if (mv !== undefined && !(typeof mv === 'number' && Number.isSafeInteger(mv) && mv >= 0))
    problems.push(`"map_version" is ${describe(mv)}, not an integer >= 0`);
  const shards = doc.shards as unknown[];
  if (shards.length === 0) problems.push('"shards" is empty');
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  const seen = new Set<number>();
  for (const [i, raw] of shards.entries()) {
    const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const at = `shards[${i}]`;
    if (typeof s.idx !== 'number' || !Number.isInteger(s.idx) || s.idx < 0 || s.idx >= shards.length)
      problems.push(`${at}.idx is ${describe(s.idx)}, not 0..${shards.length - 1}`);
    else if (seen.has(s.idx)) problems.push(`${at}.idx ${s.idx} is given to two shards`);
    else seen.add(s.idx);
    if (typeof s.name !== 'string') problems.push(`${at}.name is ${describe(s.name)}, not a string`);
    const leader = (s.leader as { address?: unknown } | null | undefined)?.address;
    if (!isAddress(leader)) problems.push(`${at}.leader.address is ${describe(leader)}, not host:port`);
    if (!Array.isArray(s.replicas)) problems.push(`${at}.replicas is ${describe(s.replicas)}, not a list`);
    else
      for (const [j, r] of (s.replicas as unknown[]).entries()) {
        const a = (r as { address?: unknown } | null | undefined)?.address;
        if (!isAddress(a)) problems.push(`${at}.replicas[${j}].address is ${describe(a)}, not host:port`);
      }
    const slots = s.slots as unknown[] | undefined;
    const [first, last] = Array.isArray(slots) ? slots : [];
    if (!isSlot(first) || !isSlot(last) || first > last || slots?.length !== 2) {
      problems.push(`${at}.slots is ${describe(slots)}, not [first, last] within 0..${SLOT_COUNT - 1}`);
      continue;
    }
    for (let slot = first; slot <= last; slot++) {
      const other = owner[slot]!;
      if (other >= 0) {
        problems.push(`${at}.slots [${first}, ${last}] overlap shards[${other}]'s at slot ${slot}`);
        break;
      }
      owner[slot] = i;
    }
  }
  if (problems.length === 0) {
    const missing = owner.indexOf(-1);
    if (missing >= 0) problems.push(`slot ${missing} has no shard`);
  }
  if (problems.length > 0)
    throw new DistkvError(
      'INTERNAL',
      `${node} answered /cluster with a map the client cannot route by: ${problems.slice(0, MAX_PROBLEMS).join('; ')}${problems.length > MAX_PROBLEMS ? `; and ${problems.length - MAX_PROBLEMS} more` : ''}`,
    );
  return new ShardMap(
    doc.shards.map((s) => ({
      name: s.name,
      idx: s.idx,
      address: s.leader.address,
      replicas: s.replicas.map((r) => r.address),
      slots: { first: s.slots[0], last: s.slots[1] },
    })),
  );
}

function isSlot(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < SLOT_COUNT;
}

/** isAddress tells whether `v` is a node address "host:port" (a name, IPv4 or [IPv6], and a port). */
function isAddress(v: unknown): v is string {
  if (typeof v !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(v)) return false;
  const port = Number(v.slice(v.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65535;
}

/** describe shows a value in an error, cut short. */
function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
