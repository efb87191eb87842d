/**
 * Per-test temporary directories, removed when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tempDir creates a fresh directory and registers its removal with `after` (node:test's hook). */
export function tempDir(after: (fn: () => void) => void, prefix = 'distkv-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
