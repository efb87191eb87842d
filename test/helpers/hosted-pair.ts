/**
 * The e2e layout of the HTTP API tests: one spawned `distkv serve` hosting node A (leader of shards
 * 0 and 1) and node B (their replica), with shard 2 led by a node C that is not running, so a
 * request can span a shard this process does not lead. Two workers, its own temp dir and ports.
 * Start it in a file's `before` and call `stop` from a file-level `after` (see `startOwnServer`).
 */
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { freePorts } from './ports.js';
import { type ServerProcess, startOwnServer } from './server-process.js';

/** HostedPair is the running server and the addresses and shard map of its layout. */
export interface HostedPair {
  server: ServerProcess;
  A: string;
  B: string;
  C: string;
  portA: number;
  portB: number;
  shardMap: ShardMap;
  /** stop stops the server, then removes its directory. */
  stop: () => Promise<void>;
}

/** keyInShard returns the first key `${prefix}0`, `${prefix}1`, … that `map` routes to `shard`. */
export function keyInShard(map: ShardMap, shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (map.shardOf(`${prefix}${i}`) === shard) return `${prefix}${i}`;
}

/**
 * startHostedPair starts the layout in a fresh temp dir, with `extraToml` appended to its config
 * and `env` to the server's environment.
 */
export async function startHostedPair(extraToml = '', env: NodeJS.ProcessEnv = {}): Promise<HostedPair> {
  const [portA, portB, portC] = (await freePorts(3)) as [number, number, number];
  const A = `127.0.0.1:${portA}`;
  const B = `127.0.0.1:${portB}`;
  const C = `127.0.0.1:${portC}`;
  const shards = [
    { address: A, replicas: [B] },
    { address: A, replicas: [B] },
    { address: C, replicas: [] },
  ];
  const shardMap = new ShardMap(
    shards.map((s, i) => ({ name: `shard-${i}`, idx: i, ...s, slots: defaultSlotRange(i, 3) })),
  );
  const { server, stop } = await startOwnServer(
    shards,
    extraToml,
    ['--node', A, '--node', B, '--workers', '2'],
    env,
  );
  return { server, A, B, C, portA, portB, shardMap, stop };
}
