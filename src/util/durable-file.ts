/**
 * Small files replaced durably (the live map, src/server/live-map-file.ts; the FORMAT marker,
 * src/server/data-format.ts; replication's markers, src/replication/durable-json.ts): written to a temporary file that is fsynced, renamed over the old file,
 * and the directory fsynced. A crash or a power loss leaves the old file or the new one, never an
 * empty or torn one and never none at all once this returned.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** replaceFileDurably replaces `file` with `text` (see above); `tmp` is the temporary file's path. */
export function replaceFileDurably(file: string, text: string, tmp = `${file}.tmp`): void {
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
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
