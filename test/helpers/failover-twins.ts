/**
 * Twins for `distkv failover` (src/cli/failover.ts) run against fake nodes: a one-shard live map
 * (`s0`, epoch 1) and the leader of it, which answers `/cluster`, holds and releases its writes at
 * `lastSeq`, and adopts the maps posted to it. The target is each test's own (what it does wrong is
 * the test); `replicaView` is its `/cluster` answer.
 */
import { failover, type FailoverResult } from '../../src/cli/failover.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { startTwinServer, type TwinServer } from './twin-server.js';

/** oneShardMap is version 3 of a map whose shard `s0` is led by `leader`, `target` its one replica. */
export function oneShardMap(leader: string, target: string): LiveMap {
  return {
    version: 3,
    shards: [
      { idx: 0, name: 's0', leader, replicas: [target], epoch: 1, history: [{ epoch: 1, firstSeq: 1 }] },
    ],
  };
}

/** replicaView is the `/cluster` answer of `address`, the replica of shard 0 in `map`, durable at `ackedSeq`. */
export function replicaView(map: LiveMap, address: string, ackedSeq: number): unknown {
  return { map, shards: [{ idx: 0, replicas: [{ address, local: true, acked_seq: ackedSeq }] }] };
}

/**
 * startLeaderTwin starts the leader of shard 0 of `map()` (read at each request: the test sets it
 * once it knows the addresses), whose writes stop at `lastSeq`; each map posted to it is given to
 * `adopted`, and adopted.
 */
export function startLeaderTwin(
  map: () => LiveMap,
  lastSeq: number,
  adopted?: (posted: LiveMap) => void,
): Promise<TwinServer> {
  return startTwinServer((url, body) => {
    if (url === '/cluster') return { map: map(), shards: [{ idx: 0, replicas: [] }] };
    if (url.startsWith('/_admin/fence'))
      return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'leader', last_seq: lastSeq };
    if (adopted !== undefined && url.startsWith('/_admin/map?')) {
      const posted = JSON.parse(body) as LiveMap;
      adopted(posted);
      return { adopted: true, map: posted };
    }
    return undefined;
  });
}

/** failoverOfS0 runs `distkv failover --shard s0` (`force`d or planned) through the node at `address`, with a 5 s limit. */
export function failoverOfS0(address: string, force: boolean): Promise<FailoverResult> {
  return failover({ urls: [`http://${address}`], shard: 's0', force, token: '', timeoutMs: 5000 });
}
