/**
 * `distkv serve` on a data directory that holds stores, none of them of the nodes it is to host.
 * Refused (exit 2) before anything opens, naming whose stores the directory holds:
 *
 * - `--node ADDR` on the directory of other nodes of the config: a restart with the wrong --node,
 *   or the wrong --data-dir. Started, it served ADDR's shards from new, empty stores beside the
 *   others': as a leader, its replicas found themselves ahead of it and rebuilt from its empty
 *   snapshot, every key of theirs gone.
 * - `--node ADDR` on a directory whose stores are all of addresses the config no longer names: a
 *   node whose address was edited (its port moved). It served its shards from new, empty stores, a
 *   shard without replicas answering 404 for every key, the old stores only warned of as left over
 *   (left-stores.ts). Without `--node` (every node of the config on this machine: `npm start` and
 *   the README's other one-machine layouts, which all default to `./data`) such a directory is as
 *   likely one another config's run left (the seed's sharding.toml tried first, then `npm start`),
 *   and the start goes on as before, warning of those stores as left over
 *   (test/unit/node-dir-other-config.test.ts).
 *
 * A directory that also holds a store of a hosted node is not refused (a replica removed, a shard
 * renamed: left-stores.ts warns of the rest), nor one without stores (a new node); one a live
 * process holds is left to the lock (DATA_DIR_LOCKED names it and its pid).
 *
 * `distkv map fetch` writes into a node's existing data directory (refuseNotDataDir): given one
 * that did not exist, it created it holding only live-map.json; given another directory, it left
 * live-map.json in it. A data directory is recognised as serve leaves one: its lock file (while a
 * node runs), its live map file, or a store directory `<node>/<shard>` (left-stores.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { heldByLiveProcess, LOCK_FILE } from '../server/data-dir-lock.js';
import { leftStores } from '../server/left-stores.js';
import { LIVE_MAP_FILE } from '../server/live-map-file.js';
import { configNodes, planNode, selectNodes } from '../server/node-plan.js';
import { mib } from '../util/mib.js';
import { UsageError } from './args.js';

/** refuseOtherNodesDir throws when `nodes` (--node) were given and the data directory holds stores and none of theirs (see above). */
export function refuseOtherNodesDir(config: Config, nodes: readonly string[]): void {
  if (nodes.length === 0) return;
  const selected = selectNodes(config, nodes);
  const holds = (addrs: readonly string[]): boolean =>
    planNode(config, addrs, 1).stores.some((s) => existsSync(dirname(s.dir)));
  // A directory in use is left to the lock's refusal (DATA_DIR_LOCKED naming the pid), the apter one.
  if (holds(selected) || heldByLiveProcess(config.server.data_dir)) return;
  const dataDir = resolve(config.server.data_dir);
  const these = selected.join(', ');
  const others = configNodes(config).filter((n) => !selected.includes(n) && holds([n]));
  if (others.length > 0)
    throw new UsageError(
      `--node ${these}: the data directory ${dataDir} holds the stores of ${others.join(', ')} and none of ${these}: ` +
        `start it with --node ${others.join(' --node ')}, or give ${these} its own --data-dir (an empty one for a new node)`,
      false,
    );
  const gone = storesOfUnnamedNodes(config);
  if (gone.length === 0) return;
  const named = [...new Set(gone.map((g) => g.address))].join(', ');
  const bytes = gone.reduce((sum, g) => sum + g.bytes, 0);
  const an = named.includes(',') ? 'addresses' : 'an address';
  throw new UsageError(
    `--node ${these}: the data directory ${dataDir} holds the stores of ${named} ` +
      `(${gone.map((g) => g.dir).join(', ')}; ${mib(bytes)} MiB), ${an} ${config.source} no longer names, and none of ${these}. ` +
      `A node whose address changed? Start it with its old address (put ${named} back in the config); to move its data to ` +
      `the new address, back it up under the old config and restore it under the new one into an empty --data-dir ` +
      `(moving the directories by hand leaves behind the writes still in the commit log: docs/operations.md, "Changing a node's address"). ` +
      `A new node: give ${these} its own, empty --data-dir.`,
    false,
  );
}

/**
 * refuseNotDataDir throws a UsageError when `dataDir` (named by `source`: "--data-dir DIR", or the
 * config's server.data_dir) does not exist, is no directory, or holds files but none a node leaves
 * in its data directory (see above); an empty directory is taken.
 */
export function refuseNotDataDir(dataDir: string, source: string): void {
  const fix =
    "give the data directory the node starts with (its --data-dir, else its config's server.data_dir)";
  let isDir: boolean;
  try {
    isDir = statSync(dataDir).isDirectory();
  } catch {
    throw new UsageError(`${source}: ${resolve(dataDir)} does not exist: ${fix}`, false);
  }
  if (!isDir) throw new UsageError(`${source}: ${resolve(dataDir)} is not a directory: ${fix}`, false);
  // An empty directory is a node's too: a memory-engine node leaves nothing once stopped, and a
  // node refused for its map is told to move its live-map.json aside and fetch the right one.
  if (readdirSync(dataDir).length === 0) return;
  const marks = [LOCK_FILE, LIVE_MAP_FILE].some((f) => existsSync(join(dataDir, f)));
  if (marks || leftStores(dataDir, []).length > 0) return;
  throw new UsageError(
    `${source}: ${resolve(dataDir)} is not a distkv data directory (it holds files, but no ${LIVE_MAP_FILE}, no ${LOCK_FILE} and no store directory <node>/<shard>): ${fix}`,
    false,
  );
}

/**
 * storesOfUnnamedNodes lists the stores of the data directory (`<data_dir>/<node>/<shard>`) whose
 * node directory is that of no node of the config, with the address it spells and their sizes.
 */
function storesOfUnnamedNodes(config: Config): { dir: string; address: string; bytes: number }[] {
  const all = planNode(config, configNodes(config), 1).stores.map((s) => s.dir);
  const nodeDirs = new Set(all.map((d) => basename(dirname(d))));
  return leftStores(config.server.data_dir, all)
    .filter((s) => !nodeDirs.has(basename(dirname(s.dir))))
    .map((s) => ({
      dir: resolve(s.dir),
      address: addressOfNodeDir(basename(dirname(s.dir))),
      bytes: s.bytes,
    }));
}

/**
 * addressOfNodeDir spells the node address a store's node directory was named after (node-plan.ts:
 * ":" written "_", IPv6 brackets dropped): `127.0.0.1_8080` is 127.0.0.1:8080, `__1_8080` is
 * [::1]:8080. A name not of that form is given as it is.
 */
export function addressOfNodeDir(name: string): string {
  const cut = name.lastIndexOf('_');
  const host = name.slice(0, cut);
  const port = name.slice(cut + 1);
  if (cut <= 0 || !/^\d+$/.test(port)) return name;
  // An IPv6 address (its ":" written "_"): hex digits and "_" only, at least two "_" (`__1` is ::1).
  const ipv6 = /^[0-9a-fA-F_]*_[0-9a-fA-F_]*_[0-9a-fA-F_]*$/.test(host);
  return ipv6 ? `[${host.replaceAll('_', ':')}]:${port}` : `${host}:${port}`;
}
