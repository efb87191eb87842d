/**
 * The history id file of a store (docs/wal-format.md, "History ids"): which history of its shard
 * the store's records belong to. An (epoch, seq) names a record only within one history (as
 * Redis's replication id): a leader whose data directory was lost starts a new history at seq 1,
 * and a replica's (epoch 0, seq 30) from before the loss names another record than the leader's.
 *
 *   history.json := '{"version":' VERSION ',"history":"' ID '","shard":' SHARD ',"node":' NODE '}' '\n'
 *   VERSION      := 1
 *   ID           := 32 lowercase hex digits (16 random bytes)
 *   SHARD        := JSON string: the shard whose store wrote the file (the store directory's name)
 *   NODE         := JSON string: the node directory the store was in (its parent's name)
 *
 * Store directories are `<data_dir>/<node>/<shard name>` (src/server/node-plan.ts), so a store
 * knows both names from its path. "shard" and "node" came later within version 1: a file without
 * them (written before) is read as it was and rewritten with them; a release before them reads a
 * file that has them (it looks at "version" and "history" only). A file naming another shard was
 * copied from another store's directory: its id names another history, and taken, it sent this
 * store's replicas, holding exactly its records, to a divergence file and a resync; it is refused
 * (CORRUPTION, naming both shards). "node" only tells a copy apart in that message: a file copied
 * from a replica store of the same shard (the repair this file's errors advise) names the replica's.
 *
 * The file lives in the store directory beside LMDB and the runs, replaced durably (a temporary
 * file, fsynced, renamed, the directory fsynced): a crash leaves the old id or the new one. A store
 * without it has no id yet (a new store, or one written by a version before ids): its leader gives
 * it one when it starts leading holding nothing, a replica takes its leader's
 * (src/replication/history-check.ts), a bulk load names the history it loads (src/cli/load.ts).
 * A resync wipes the directory and the file with it; the snapshot's id is written back before the
 * replica serves.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DistkvError } from '../errors.js';
import { removeFileDurably, replaceFileDurably } from '../util/durable-file.js';

/** HISTORY_FILE names the file in a store directory. */
export const HISTORY_FILE = 'history.json';

/** HISTORY_FORMAT_VERSION is the version the file carries. */
export const HISTORY_FORMAT_VERSION = 1;

const HISTORY_ID = /^[0-9a-f]{32}$/;

/** HistoryDoc is the file's content as JSON. */
interface HistoryDoc {
  version?: unknown;
  history?: unknown;
  shard?: unknown;
  node?: unknown;
}

/** isHistoryId says `v` is a history id as the grammar above spells it. */
export function isHistoryId(v: unknown): v is string {
  return typeof v === 'string' && HISTORY_ID.test(v);
}

/** newHistoryId returns a random history id: the name of a history that begins now. */
export function newHistoryId(): string {
  return randomBytes(16).toString('hex');
}

/** storeNames returns the shard and node names of store directory `dir` (see above). */
function storeNames(dir: string): { shard: string; node: string } {
  return { shard: basename(dir), node: basename(dirname(dir)) };
}

/**
 * historyRepair says what an operator can do about a history file that cannot be taken (damaged,
 * or another shard's) in the store of shard `shard`, and what follows from each: what
 * src/replication/history-check.ts and worker-leaders.ts `beginHistory` do with a store without an
 * id. A leader store holding records is not named anew (its returning replicas were forked).
 */
function historyRepair(shard: string): string {
  return (
    `in a replica's store, remove it: the replica takes its leader's id at its next pull. ` +
    `In its shard's leader store, copy history.json from a replica store of ${shard} ` +
    `(<data_dir>/<replica node>/${shard}/history.json, which holds the same history's id once the replica has pulled) if one has it; ` +
    `removing it instead leaves the store without an id (one holding records is not given a new one), ` +
    `so its replicas' pulls go unchecked for another history (a later loss of this store's directory is not seen by them) ` +
    `until a replica holding the id is promoted or this store starts empty (docs/wal-format.md, "History ids")`
  );
}

/**
 * readHistoryFile returns the id kept in store directory `dir`, undefined when it has none. A file
 * that is not one is CORRUPTION naming it: read as no id, a leader would start another history and
 * send every replica it has to a resync. A file naming another shard than the directory's is
 * CORRUPTION naming both. A file from before shard names is rewritten with them, durably (when the
 * disk takes the write: else it is kept as it was, and read the same way at the next open).
 */
export function readHistoryFile(dir: string): string | undefined {
  const file = join(dir, HISTORY_FILE);
  if (!existsSync(file)) return undefined;
  const { shard } = storeNames(dir);
  let doc: HistoryDoc | undefined;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as HistoryDoc;
  } catch {
    doc = undefined;
  }
  if (
    doc?.version !== HISTORY_FORMAT_VERSION ||
    !isHistoryId(doc.history) ||
    (doc.shard !== undefined && typeof doc.shard !== 'string') ||
    (doc.node !== undefined && typeof doc.node !== 'string')
  )
    throw new DistkvError(
      'CORRUPTION',
      `${file} is not a history id file (expected {"version":${HISTORY_FORMAT_VERSION},"history":"<32 hex digits>","shard":${JSON.stringify(shard)},"node":"<node directory>"}): ${historyRepair(shard)}`,
    );
  if (doc.shard === undefined) {
    // Best effort: a disk that refuses the write (full, read-only) keeps the old file, still
    // valid, and the next open tries again; the store opens either way.
    try {
      writeHistoryFile(dir, doc.history);
    } catch {
      // kept as it was
    }
  } else if (doc.shard !== shard)
    throw new DistkvError(
      'CORRUPTION',
      `${file} names the history of shard ${JSON.stringify(doc.shard)}${typeof doc.node === 'string' ? ` (written in node directory ${JSON.stringify(doc.node)})` : ''}, not of ${JSON.stringify(shard)}, the shard whose store this directory is: it was copied from another store, and its id is another history's (taken, this store's replicas would save their records to divergence files and resync). Put back this store's own file if it was kept; else ${historyRepair(shard)}`,
    );
  return doc.history;
}

/** writeHistoryFile makes `id` the history id of store directory `dir`, durably, before it returns. */
export function writeHistoryFile(dir: string, id: string): void {
  if (!isHistoryId(id))
    throw new DistkvError('INTERNAL', `history id ${JSON.stringify(id)} is not 32 hex digits`);
  const { shard, node } = storeNames(dir);
  replaceFileDurably(
    join(dir, HISTORY_FILE),
    `${JSON.stringify({ version: HISTORY_FORMAT_VERSION, history: id, shard, node })}\n`,
  );
}

/** removeHistoryFile leaves store directory `dir` without a history id, durably, before it returns. */
export function removeHistoryFile(dir: string): void {
  if (existsSync(join(dir, HISTORY_FILE))) removeFileDurably(join(dir, HISTORY_FILE));
}
