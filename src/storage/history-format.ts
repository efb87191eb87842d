/**
 * The history id file of a store (docs/wal-format.md, "History ids"): which history of its shard
 * the store's records belong to. An (epoch, seq) names a record only within one history (as
 * Redis's replication id): a leader whose data directory was lost starts a new history at seq 1,
 * and a replica's (epoch 0, seq 30) from before the loss names another record than the leader's.
 *
 *   history.json := '{"version":' VERSION ',"history":"' ID '"}' '\n'
 *   VERSION      := 1
 *   ID           := 32 lowercase hex digits (16 random bytes)
 *
 * The file lives in the store directory beside LMDB and the runs, replaced durably (a temporary
 * file, fsynced, renamed, the directory fsynced): a crash leaves the old id or the new one. A store
 * without it has no id yet (a new store, or one written by a version before ids): its leader gives
 * it one when it starts leading, a replica takes its leader's (src/replication/history-check.ts).
 * A resync wipes the directory and the file with it; the snapshot's id is written back before the
 * replica serves.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import { replaceFileDurably } from '../util/durable-file.js';

/** HISTORY_FILE names the file in a store directory. */
export const HISTORY_FILE = 'history.json';

/** HISTORY_FORMAT_VERSION is the version the file carries. */
export const HISTORY_FORMAT_VERSION = 1;

const HISTORY_ID = /^[0-9a-f]{32}$/;

/** isHistoryId says `v` is a history id as the grammar above spells it. */
export function isHistoryId(v: unknown): v is string {
  return typeof v === 'string' && HISTORY_ID.test(v);
}

/** newHistoryId returns a random history id: the name of a history that begins now. */
export function newHistoryId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * readHistoryFile returns the id kept in store directory `dir`, undefined when it has none. A file
 * that is not one is CORRUPTION naming it: read as no id, a leader would start another history and
 * send every replica it has to a resync.
 */
export function readHistoryFile(dir: string): string | undefined {
  const file = join(dir, HISTORY_FILE);
  if (!existsSync(file)) return undefined;
  let doc: { version?: unknown; history?: unknown } | undefined;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; history?: unknown };
  } catch {
    doc = undefined;
  }
  if (doc?.version !== HISTORY_FORMAT_VERSION || !isHistoryId(doc.history))
    throw new DistkvError(
      'CORRUPTION',
      `${file} is not a history id file (expected {"version":${HISTORY_FORMAT_VERSION},"history":"<32 hex digits>"}); remove it to give the store a new history (its replicas then resync from it)`,
    );
  return doc.history;
}

/** writeHistoryFile makes `id` the history id of store directory `dir`, durably, before it returns. */
export function writeHistoryFile(dir: string, id: string): void {
  if (!isHistoryId(id))
    throw new DistkvError('INTERNAL', `history id ${JSON.stringify(id)} is not 32 hex digits`);
  replaceFileDurably(
    join(dir, HISTORY_FILE),
    `${JSON.stringify({ version: HISTORY_FORMAT_VERSION, history: id })}\n`,
  );
}
