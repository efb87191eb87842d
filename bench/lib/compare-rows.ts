/**
 * The rows of `bench:compare` and the servers they run against. A row is one workload (a driver:
 * wrk, redis-benchmark or distkv's load generator) on one server. Servers are started once per run
 * (and, for distkv servers, once per build under `--against`), only when a selected row needs them.
 *
 * The "write" group is issue 18's table (wrk -t1 -c50, 100-byte values, random keys; redis with
 * redis-benchmark -c 50 -P 1 -d 100); the "mix" group is issue 7's comparison (the load generator,
 * get:90,set:10 over zipf keys, against every durability mode and redis).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** DistkvServer is how a distkv server of a row is configured. */
export interface DistkvServer {
  durability: 'fsync' | 'interval' | 'none';
  inline: boolean;
  /** replicas: the default layout's 4 replicas on a second port; false = the 4 leaders alone. */
  replicas: boolean;
}

/** ServerSpec is one server a row runs against. */
export type ServerSpec =
  | { kind: 'distkv'; id: string; label: string; distkv: DistkvServer }
  | { kind: 'redis'; id: string; label: string; appendfsync: 'always' | 'everysec' }
  | { kind: 'bare'; id: string; label: string; log?: 'write' | 'fsync' };

/** Driver is the workload of a row. */
export type Driver =
  | { kind: 'wrk'; script: 'put-kv.lua' | 'get-kv.lua'; connections: number }
  | { kind: 'redis-benchmark'; test: 'set'; connections: number }
  | { kind: 'loadgen' };

/** Row is one line of the report. */
export interface Row {
  id: string;
  label: string;
  server: ServerSpec;
  driver: Driver;
  /** preload: the key space must exist before the row runs (GETs, the mixed workload). */
  preload: boolean;
}

const distkv = (id: string, label: string, d: DistkvServer): ServerSpec => ({
  kind: 'distkv',
  id,
  label,
  distkv: d,
});

/** SERVERS are every server a row can use. */
export const SERVERS = {
  fsync: distkv('fsync', 'distkv default layout, fsync', {
    durability: 'fsync',
    inline: false,
    replicas: true,
  }),
  inline: distkv('inline', 'distkv default layout, fsync, --inline', {
    durability: 'fsync',
    inline: true,
    replicas: true,
  }),
  noReplicas: distkv('no-replicas', 'distkv 4 leaders without replicas, fsync', {
    durability: 'fsync',
    inline: false,
    replicas: false,
  }),
  interval: distkv('interval', 'distkv default layout, interval', {
    durability: 'interval',
    inline: false,
    replicas: true,
  }),
  none: distkv('none', 'distkv default layout, none', { durability: 'none', inline: false, replicas: true }),
  redisAlways: { kind: 'redis', id: 'redis-always', label: 'redis-server always', appendfsync: 'always' },
  redisEverysec: {
    kind: 'redis',
    id: 'redis-everysec',
    label: 'redis-server everysec',
    appendfsync: 'everysec',
  },
  bare: { kind: 'bare', id: 'bare', label: 'bare uWS+Map' },
  bareFsync: { kind: 'bare', id: 'bare-fsync', label: 'bare uWS+Map, fdatasync per turn', log: 'fsync' },
  bareWrite: { kind: 'bare', id: 'bare-write', label: 'bare uWS+Map, write per turn', log: 'write' },
} as const satisfies Record<string, ServerSpec>;

const put = (connections: number): Driver => ({ kind: 'wrk', script: 'put-kv.lua', connections });
const get: Driver = { kind: 'wrk', script: 'get-kv.lua', connections: 50 };
const set: Driver = { kind: 'redis-benchmark', test: 'set', connections: 50 };
const mix: Driver = { kind: 'loadgen' };

/** ROWS is the catalogue, in report order. */
export const ROWS: readonly Row[] = [
  {
    id: 'put-fsync',
    label: 'distkv PUT, fsync, default layout (4 leaders + 4 replicas, 1 worker)',
    server: SERVERS.fsync,
    driver: put(50),
    preload: false,
  },
  {
    id: 'put-inline',
    label: 'distkv PUT, fsync, `--inline`',
    server: SERVERS.inline,
    driver: put(50),
    preload: false,
  },
  {
    id: 'put-noreplicas',
    label: 'distkv PUT, fsync, same 4 shards without replicas',
    server: SERVERS.noReplicas,
    driver: put(50),
    preload: false,
  },
  {
    id: 'put-interval',
    label: 'distkv PUT, durability interval, default layout',
    server: SERVERS.interval,
    driver: put(50),
    preload: false,
  },
  {
    id: 'redis-always',
    label: 'redis-server SET, appendfsync always',
    server: SERVERS.redisAlways,
    driver: set,
    preload: false,
  },
  {
    id: 'redis-everysec',
    label: 'redis-server SET, appendfsync everysec',
    server: SERVERS.redisEverysec,
    driver: set,
    preload: false,
  },
  {
    id: 'put-bare-fsync',
    label: 'bare uWS+Map PUT, one write + fdatasync per turn (the Node.js ceiling)',
    server: SERVERS.bareFsync,
    driver: put(50),
    preload: false,
  },
  {
    id: 'put-bare-write',
    label: 'bare uWS+Map PUT, one write per turn, no fsync',
    server: SERVERS.bareWrite,
    driver: put(50),
    preload: false,
  },
  {
    id: 'put-bare-c10',
    label: 'bare uWS+Map PUT, fdatasync per turn, 10 connections closed loop (wrk -c10)',
    server: SERVERS.bareFsync,
    driver: put(10),
    preload: false,
  },
  {
    id: 'get-default',
    label: 'distkv GET, default layout',
    server: SERVERS.fsync,
    driver: get,
    preload: true,
  },
  { id: 'get-inline', label: 'distkv GET, `--inline`', server: SERVERS.inline, driver: get, preload: true },
  { id: 'get-bare', label: 'bare uWS+Map GET', server: SERVERS.bare, driver: get, preload: true },
  {
    id: 'put-c10',
    label: 'distkv PUT, fsync, default layout, 10 connections closed loop (wrk -c10)',
    server: SERVERS.fsync,
    driver: put(10),
    preload: false,
  },
  { id: 'mix-bare', label: 'mix: bare uWS+Map', server: SERVERS.bare, driver: mix, preload: true },
  {
    id: 'mix-fsync',
    label: 'mix: distkv default layout, fsync',
    server: SERVERS.fsync,
    driver: mix,
    preload: true,
  },
  {
    id: 'mix-interval',
    label: 'mix: distkv default layout, interval',
    server: SERVERS.interval,
    driver: mix,
    preload: true,
  },
  {
    id: 'mix-none',
    label: 'mix: distkv default layout, none',
    server: SERVERS.none,
    driver: mix,
    preload: true,
  },
  {
    id: 'mix-inline',
    label: 'mix: distkv default layout, fsync, --inline',
    server: SERVERS.inline,
    driver: mix,
    preload: true,
  },
  {
    id: 'mix-redis-always',
    label: 'mix: redis-server, appendfsync always',
    server: SERVERS.redisAlways,
    driver: mix,
    preload: true,
  },
  {
    id: 'mix-redis-everysec',
    label: 'mix: redis-server, appendfsync everysec',
    server: SERVERS.redisEverysec,
    driver: mix,
    preload: true,
  },
];

/**
 * RUN_ORDER is the order of a round (reversed every other round): the two sides of each ratio of
 * RATIOS next to each other, so that a change of the machine's load within a round (other jobs come
 * and go on a shared machine) falls on both sides of a ratio rather than between them.
 */
export const RUN_ORDER: readonly string[] = [
  'put-fsync',
  'redis-always',
  'put-bare-fsync',
  'put-interval',
  'redis-everysec',
  'put-bare-write',
  'put-noreplicas',
  'put-inline',
  'put-c10',
  'put-bare-c10',
  'get-default',
  'get-bare',
  'get-inline',
  'mix-fsync',
  'mix-redis-always',
  'mix-interval',
  'mix-redis-everysec',
  'mix-none',
  'mix-inline',
  'mix-bare',
];

/** ROW_GROUPS are the names `--rows` accepts besides row ids. */
export const ROW_GROUPS: Record<string, readonly string[]> = {
  write: ROWS.filter((r) => !r.id.startsWith('mix-')).map((r) => r.id),
  mix: ROWS.filter((r) => r.id.startsWith('mix-')).map((r) => r.id),
  distkv: ROWS.filter((r) => !r.id.startsWith('mix-') && r.server.kind === 'distkv').map((r) => r.id),
  all: ROWS.map((r) => r.id),
};

/** RATIOS are the same-run ratios issue 18 asks for: [label, numerator row, denominator row]. */
export const RATIOS: readonly [string, string, string][] = [
  ['PUT fsync, default layout ÷ redis appendfsync always', 'put-fsync', 'redis-always'],
  ['PUT interval, default layout ÷ redis everysec', 'put-interval', 'redis-everysec'],
  [
    'Node.js ceiling: bare PUT fdatasync per turn ÷ redis appendfsync always',
    'put-bare-fsync',
    'redis-always',
  ],
  ['Node.js ceiling: bare PUT write per turn ÷ redis everysec', 'put-bare-write', 'redis-everysec'],
  ['10 connections: PUT fsync, default layout ÷ bare PUT fdatasync per turn', 'put-c10', 'put-bare-c10'],
  ['GET default ÷ bare uWS+Map', 'get-default', 'get-bare'],
  ['GET `--inline` ÷ bare uWS+Map', 'get-inline', 'get-bare'],
  ['mix: distkv fsync ÷ redis always', 'mix-fsync', 'mix-redis-always'],
  ['mix: distkv interval ÷ redis everysec', 'mix-interval', 'mix-redis-everysec'],
];

/**
 * distkvConfig writes a config of 4 shards whose leaders share `leaderPort` and, with replicas, whose
 * replicas share `replicaPort` (config/default.toml's layout), without the RESP listeners (their
 * port + 1000 twins could collide with other free ports), and returns its path.
 */
export function distkvConfig(
  dir: string,
  d: DistkvServer,
  leaderPort: number,
  replicaPort: number,
  segmentBytes?: number,
): string {
  const shards = [0, 1, 2, 3].map((i) => {
    const replicas = d.replicas ? `replicas = ["127.0.0.1:${replicaPort}"]\n` : '';
    return `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "127.0.0.1:${leaderPort}"\n${replicas}`;
  });
  const path = join(dir, 'bench.toml');
  const segment = segmentBytes === undefined ? '' : `wal_segment_bytes = ${segmentBytes}\n`;
  const tail = `[server]\nresp_port_offset = 0\n\n[storage]\ndurability = "${d.durability}"\n${segment}`;
  writeFileSync(path, `${shards.join('\n')}\n${tail}`);
  return path;
}
