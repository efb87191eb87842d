/**
 * Small JSON files a store directory keeps for replication (a resync's marker, follower.ts; a
 * promoted leader's epoch start, epoch-starts.ts), replaced durably: a temporary file,
 * fsynced, renamed over the old one, the directory fsynced. A crash leaves the old file or the new
 * one, never a torn one.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** writeDurableJson replaces `file` with `content` as JSON, durably (see above). */
export function writeDurableJson(file: string, content: unknown): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify(content)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
