/**
 * Start warnings: what a node says at start about the state it starts from (src/server/node.ts,
 * docs/failover.md): a last run that did not stop cleanly (run-marker.ts), and, without a
 * coordinator, no peer answering before it serves (or none whose TLS handshake succeeds).
 */
import type { Logger } from 'pino';
import { tlsFailureText } from '../util/tls-failure.js';
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
 * epoch, which end in a divergence file: docs/failover.md). Peers whose TLS handshake failed are
 * named as such, with their failure: they are up, and "no peer answered" (normal for the first
 * node that starts) hid a certificate not trusted or expired.
 */
export function warnIfAlone(log: Logger, peers: PeerCheck, version: number): void {
  const silent = peers.silent();
  const asked = peers.view().length;
  if (asked === 0 || silent.length < asked) return;
  const untrusted = peers.untrusted();
  const serving = `serving with live map version ${version} from its data directory; a failover made while this node was down reaches it only once a peer answers`;
  if (untrusted.length === 0) {
    log.warn(
      { map_version: version, peers: silent },
      `no peer answered at start: ${serving} (normal for the first node of a cluster that starts; peers asked: ${silent.join(', ')})`,
    );
    return;
  }
  const failures = untrusted.map((u) => `${u.address}: ${tlsFailureText(u.tls)}`);
  const quiet = silent.filter((a) => !untrusted.some((u) => u.address === a));
  log.warn(
    { map_version: version, peers: silent, tls_failures: failures },
    `no peer could be read at start: the TLS handshake failed with ${failures.join('; ')}${quiet.length === 0 ? '' : `, and ${quiet.join(', ')} did not answer`}. Check this node's server.tls_ca and those nodes' certificates (their dates and names; the lines above say which); meanwhile ${serving}`,
  );
}
