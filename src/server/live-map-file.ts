/**
 * The live map on disk: `<data_dir>/live-map.json`, the JSON of the last LiveMap this process adopted
 * (src/routing/live-map.ts). Written atomically (temp file, fsync, rename, fsync of the directory) so
 * a crash leaves the old map or the new one, never a torn one. A missing file means the config's
 * initial map (a file that exists and cannot be read stops the start, naming it); a file that no longer fits the config (shards or members changed) is ignored with a
 * warning, since the config was edited on purpose.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { initialLiveMap, type LiveMap, parseLiveMap } from '../routing/live-map.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { replaceFileDurably } from '../util/durable-file.js';

/** LIVE_MAP_FILE is the file name of the persisted live map inside the data directory. */
export const LIVE_MAP_FILE = 'live-map.json';

/** loadLiveMap reads the persisted map of `dataDir`, or returns the config's initial map. */
export function loadLiveMap(dataDir: string, config: readonly ShardInfo[], log?: Logger): LiveMap {
  const path = join(dataDir, LIVE_MAP_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // ENOTDIR: the data directory is not a directory, so it holds no map (the lock says so next).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return initialLiveMap(config);
    // Unreadable is not missing: the config's map could make a demoted leader lead again.
    throw new DistkvError(
      'CONFIG_INVALID',
      `cannot read the live map ${path}: ${(err as Error).message}; fix its permissions (or the disk), or remove it to start from the config's leaders (peers' newer maps are adopted at start)`,
    );
  }
  try {
    return parseLiveMap(JSON.parse(text), config);
  } catch (err) {
    log?.warn(
      { file: path, err: (err as Error).message },
      `${path} does not fit the config; starting from the config's leaders`,
    );
    return initialLiveMap(config);
  }
}

/** saveLiveMap writes `map` to `dataDir` atomically and durably. */
export function saveLiveMap(dataDir: string, map: LiveMap): void {
  mkdirSync(dataDir, { recursive: true });
  replaceFileDurably(join(dataDir, LIVE_MAP_FILE), `${JSON.stringify(map, null, 1)}\n`);
}
