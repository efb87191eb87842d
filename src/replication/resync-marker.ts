/**
 * The resync marker: a file in a replica's directory that says a resync from a leader snapshot is
 * under way (`{"loading":true}`) or up to which seq the replica's content is not exact yet
 * (`{"exactSeq":S}`); follower.ts writes and reads it (docs/architecture.md, "Replication").
 * After a load it also keeps the snapshot's seq and the leader's epoch there (`"seq"`, `"epoch"`),
 * and keeps only those once the replica is exact: the reopened store has no record at the snapshot
 * seq to read its epoch back from, and its own map may lag the leader's. They are read only while
 * the store's last seq is that seq (snapshotEpochOf, setReplicaEpoch); the next resync replaces them.
 *
 * It is written before the resync wipes the directory and the wipe spares it: a replica stopped
 * between the wipe and the load must not open as whatever its log still held of it.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LMDB_DIR } from '../storage/lmdb-presence.js';
import { syncPath } from '../util/durable-file.js';

/** RESYNC_MARKER names the marker file in a replica's directory. */
export const RESYNC_MARKER = 'resync.json';

/**
 * wipeReplicaDir empties replica directory `dir` for a resync, all but its RESYNC_MARKER. Its LMDB
 * goes last, once the removal of the rest is durable: a store whose `lmdb/` is missing beside its
 * `commit-log` pointer or `history.json` is refused as one whose LMDB was removed by hand
 * (src/storage/lmdb-presence.ts), and a wipe cut short must leave a store that opens (and resyncs).
 */
export function wipeReplicaDir(dir: string): void {
  if (!existsSync(dir)) return;
  const names = readdirSync(dir).filter((n) => n !== RESYNC_MARKER);
  for (const name of names) if (name !== LMDB_DIR) rmSync(join(dir, name), { recursive: true, force: true });
  if (!names.includes(LMDB_DIR)) return;
  syncPath(dir);
  rmSync(join(dir, LMDB_DIR), { recursive: true, force: true });
}

/**
 * readResyncMarker returns the exactSeq a resync left in `file` (0 when there is none), or
 * 'loading' when a snapshot load began and did not finish.
 */
export function readResyncMarker(file: string | undefined): number | 'loading' {
  if (file === undefined) return 0;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { exactSeq?: unknown; loading?: unknown };
    if (parsed.loading === true) return 'loading';
    return typeof parsed.exactSeq === 'number' ? parsed.exactSeq : 0;
  } catch {
    return 0;
  }
}

/**
 * snapshotEpochOf returns the snapshot seq and the leader's epoch there that the last resync left
 * in `file`, if any: the epoch of a replica whose last seq is that seq (it logged nothing since).
 */
export function snapshotEpochOf(file: string | undefined): { seq: number; epoch: number } | undefined {
  if (file === undefined) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { seq?: unknown; epoch?: unknown };
    const { seq, epoch } = parsed;
    return typeof seq === 'number' && typeof epoch === 'number' ? { seq, epoch } : undefined;
  } catch {
    return undefined;
  }
}
