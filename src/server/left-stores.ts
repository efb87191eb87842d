/**
 * Stores a data directory holds that this start does not open: a replica removed from a shard in
 * sharding.toml, a shard renamed, a node given to another process. Nothing serves them or writes
 * them again, and nothing removes them (an edit may be undone; their data may still be wanted, for
 * one to copy out), so they hold their disk silently. The start names each once, with its size and
 * what to do (docs/operations.md, "Changing the config").
 *
 * A store is a directory `<data_dir>/<node>/<shard>` that holds an engine's files (engine-of-dir.ts);
 * the data directory's own entries (the worker logs under `log/`, LOCK, FORMAT...) are not stores.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { engineOfDir } from '../storage/engine-of-dir.js';
import { RealVfs } from '../storage/real-vfs.js';
import { mib } from '../util/mib.js';

/** leftStores lists the store directories under `dataDir` that are not among `opened`, with their sizes. */
export function leftStores(dataDir: string, opened: readonly string[]): { dir: string; bytes: number }[] {
  const wanted = new Set(opened.map((d) => resolve(d)));
  const left: { dir: string; bytes: number }[] = [];
  for (const node of subdirs(dataDir))
    for (const shard of subdirs(join(dataDir, node))) {
      const dir = join(dataDir, node, shard);
      if (wanted.has(resolve(dir)) || engineOfDir(dir) === undefined) continue;
      left.push({ dir, bytes: bytesUnder(dir) });
    }
  return left;
}

/** warnOfLeftStores logs each store of `dataDir` this start does not open (see the module comment). */
export function warnOfLeftStores(log: Logger, dataDir: string, opened: readonly string[]): void {
  for (const { dir, bytes } of leftStores(dataDir, opened))
    log.warn(
      { dir, bytes },
      `${dir} holds a store this config does not give this process (a replica removed from its shard, a shard renamed, or a node moved to another process): it is not opened or served; remove the directory once its data is not wanted (${mib(bytes)} MiB)`,
    );
}

/** subdirs lists the directories in `dir` (the stores' own lister), none when it cannot be read: a warning does not stop a start. */
function subdirs(dir: string): string[] {
  try {
    return new RealVfs().listDirs(dir);
  } catch {
    return [];
  }
}

function bytesUnder(dir: string): number {
  let total = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) total += bytesUnder(path);
      else if (e.isFile()) total += statSync(path).size;
    }
  } catch {
    // gone or unreadable meanwhile: counted as far as read
  }
  return total;
}
