/**
 * Start warnings: what a node says at start about the state it starts from (src/server/node.ts,
 * docs/failover.md): a last run that did not stop cleanly (run-marker.ts), and, without a
 * coordinator, no peer answering before it serves.
 */
import type { Logger } from 'pino';
import type { PeerCheck } from './peer-check.js';
import type { RunMarker } from './run-marker.js';

/** warnIfUnclean logs that the last run of `dataDir` did not stop cleanly. */
export function warnIfUnclean(log: Logger, dataDir: string, marker: RunMarker): void {
  const last = marker.lastRun;
  if (last === undefined) return;
  log.warn(
    {
      data_dir: dataDir,
      previous_pid: last.pid,
      durability: last.durability,
      new_epochs: marker.lossy,
    },
    `the last run of ${dataDir} (pid ${last.pid}, durability ${last.durability}) did not stop cleanly` +
      (marker.lossy
        ? ': writes it showed before their sync may be lost, so the shards this node leads start a new epoch'
        : ''),
  );
}

/**
 * warnIfAlone logs, at start without a coordinator, that no peer answered: the node then serves
 * with the live map on its disk (version `version`), and a failover that moved one of its shards
 * while it was down reaches it only when a peer answers (until then it takes writes in the old
 * epoch, which end in a divergence file: docs/failover.md).
 */
export function warnIfAlone(log: Logger, peers: PeerCheck, version: number): void {
  const silent = peers.silent();
  const asked = peers.view().length;
  if (asked === 0 || silent.length < asked) return;
  log.warn(
    { map_version: version, peers: silent },
    `no peer answered at start: serving with live map version ${version} from its data directory; a failover made while this node was down reaches it only once a peer answers (normal for the first node of a cluster that starts; peers asked: ${silent.join(', ')})`,
  );
}
