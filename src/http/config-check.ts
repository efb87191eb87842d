/**
 * Detecting nodes that route with different configs: internal requests between nodes (replication
 * pulls, forwarded scans and batches) carry the sender's topology hash as `config=`; a node whose
 * own hash differs refuses them with 409 CONFIG_MISMATCH rather than serving a mis-routed answer.
 */
import { DistkvError } from '../errors.js';

/** configMismatch returns the error to send when the request's `config` hash is not `mine`. */
export function configMismatch(params: ReadonlyMap<string, string>, mine: string): DistkvError | undefined {
  const theirs = params.get('config');
  if (theirs === undefined || theirs === mine) return undefined;
  return new DistkvError(
    'CONFIG_MISMATCH',
    `the sender routes with config ${theirs}, this node with ${mine}: give every node the same sharding.toml`,
  );
}
