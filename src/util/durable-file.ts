/**
 * Small files replaced durably (the live map, src/server/live-map-file.ts; the FORMAT marker,
 * src/server/data-format.ts; replication's markers, src/replication/durable-json.ts; the RUNNING
 * marker, src/server/run-marker.ts): written to a temporary file that is fsynced, renamed over the
 * old file, and the directory fsynced. A crash or a power loss leaves the old file or the new one,
 * never an empty or torn one and never none at all once this returned. `removeFileDurably` is the
 * reverse: once it returned, the file stays gone.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAllSync } from './write-all.js';

/**
 * replaceFileDurably replaces `file` with `text` (see above); `tmp` is the temporary file's path.
 * When the temporary file cannot be written whole (a full disk: src/util/write-all.ts) or renamed,
 * it throws with `file` untouched and the temporary file removed.
 */
export function replaceFileDurably(file: string, text: string, tmp = `${file}.tmp`): void {
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeAllSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncPath(dirname(file));
}

/** removeFileDurably removes `file` (if it exists) and fsyncs its directory, so a power loss does not bring it back. */
export function removeFileDurably(file: string): void {
  rmSync(file, { force: true });
  syncPath(dirname(file));
}

/** syncPath fsyncs the file or directory `path` (a directory: the names in it), opened read-only for it. */
export function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
