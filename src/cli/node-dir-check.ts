/**
 * `distkv serve --node ADDR` on a data directory that holds the stores of other nodes of the config
 * and none of ADDR's: a restart with the wrong --node, or the wrong --data-dir. Started, it served
 * ADDR's shards from new, empty stores beside the others': as a leader, its replicas found
 * themselves ahead of it and rebuilt from its empty snapshot, every key of theirs gone. Refused
 * (exit 2) before anything opens, naming the nodes whose stores the directory holds.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import { configNodes, planNode, selectNodes } from '../server/node-plan.js';
import { UsageError } from './args.js';

/** refuseOtherNodesDir throws when `nodes` (--node) were given and the data directory holds only other nodes' stores. */
export function refuseOtherNodesDir(config: Config, nodes: readonly string[]): void {
  if (nodes.length === 0) return;
  const selected = selectNodes(config, nodes);
  const holds = (addrs: readonly string[]): boolean =>
    planNode(config, addrs, 1).stores.some((s) => existsSync(dirname(s.dir)));
  if (holds(selected)) return;
  const others = configNodes(config).filter((n) => !selected.includes(n) && holds([n]));
  if (others.length === 0) return;
  throw new UsageError(
    `--node ${selected.join(', ')}: the data directory ${config.server.data_dir} holds the stores of ${others.join(', ')} and none of ${selected.join(', ')}: ` +
      `start it with --node ${others.join(' --node ')}, or give ${selected.join(', ')} its own --data-dir (an empty one for a new node)`,
    false,
  );
}
