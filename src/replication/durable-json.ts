/**
 * Small JSON files a store directory keeps for replication (a resync's marker, follower.ts; a
 * promoted leader's epoch start, epoch-starts.ts; the seed cursor, seed-cursor.ts), replaced
 * durably: a temporary file, fsynced, renamed over the old one, the directory fsynced. A crash
 * leaves the old file or the new one, never a torn one.
 */
import { replaceFileDurably } from '../util/durable-file.js';

/** writeDurableJson replaces `file` with `content` as JSON, durably (see above). */
export function writeDurableJson(file: string, content: unknown): void {
  replaceFileDurably(file, `${JSON.stringify(content)}\n`);
}
