/**
 * The data directory's FORMAT marker: which slot function placed the keys of its stores.
 *
 * On disk: `<data_dir>/FORMAT`, text, one `name=value` per line:
 *   format=2
 *   slots=crc16-redis-cluster
 *
 * A store holds only the keys of its shard's slot range, so a directory written under one slot
 * function is wrong under another: keys would sit on shards that no longer own them, invisible to
 * reads. distkv first routed by xxh64 and wrote no marker; since it routes as Redis Cluster does
 * (src/routing/slot.ts), a directory without the marker whose stores hold files is refused, with
 * a message saying what to do (docs/seed-compatibility.md). An empty directory gets the marker.
 *
 * Format 2 stores each LMDB value with its version and expiry (src/storage/lmdb-value-format.ts).
 * A format 1 directory is upgraded: its marker is rewritten as format 2 here, and each store's LMDB
 * values are rewritten when the store opens (one transaction per store, redone if interrupted). The
 * marker keeps a distkv that predates versions from opening an upgraded directory.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import { SLOT_FUNCTION } from '../routing/slot.js';
import { replaceFileDurably } from '../util/durable-file.js';

/** FORMAT_FILE is the marker's file name inside the data directory. */
export const FORMAT_FILE = 'FORMAT';
const FORMAT_VERSION = '2';
/** UPGRADABLE_FORMAT is the older format upgraded in place (see the module comment). */
const UPGRADABLE_FORMAT = '1';

function hasFiles(dir: string): boolean {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { withFileTypes: true }).some(
    (e) => !e.isDirectory() || hasFiles(join(dir, e.name)),
  );
}

function parseMarker(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return fields;
}

/**
 * checkDataFormat refuses a data directory whose stores were placed by another slot function, and
 * writes the marker into one that has none yet and whose stores (`storeDirs`) hold no files.
 */
export function checkDataFormat(dataDir: string, storeDirs: readonly string[]): void {
  const path = join(dataDir, FORMAT_FILE);
  if (existsSync(path)) {
    const fields = parseMarker(readFileSync(path, 'utf8'));
    const slots = fields.get('slots');
    const format = fields.get('format');
    if ((format !== FORMAT_VERSION && format !== UPGRADABLE_FORMAT) || slots !== SLOT_FUNCTION)
      throw new DistkvError(
        'CONFIG_INVALID',
        `${path} says format=${format ?? '?'} slots=${slots ?? '?'}; this distkv reads format=${UPGRADABLE_FORMAT} or ${FORMAT_VERSION} with slots=${SLOT_FUNCTION}. Use a distkv that matches it, or another --data-dir.`,
      );
    if (format === UPGRADABLE_FORMAT) writeMarker(dataDir, path);
    return;
  }
  const used = storeDirs.filter(hasFiles);
  if (used.length > 0)
    throw new DistkvError(
      'CONFIG_INVALID',
      `${dataDir} holds stores written by an older distkv that placed keys by xxh64 slots (${used[0]}${used.length > 1 ? ` and ${used.length - 1} more` : ''}); ` +
        `this version places them by Redis Cluster's CRC16 slots, so those keys would be on the wrong shards. ` +
        `Copy the data out with the older version (distkv scan) and load it into a fresh --data-dir, or delete ${dataDir} ` +
        `(docs/seed-compatibility.md).`,
    );
  writeMarker(dataDir, path);
}

/**
 * writeMarker writes this build's marker at `path`, durably: the stores fsync their first files
 * after it, and a marker lost (or left empty) by a power loss would have the next start refuse those
 * stores as written by an older distkv.
 */
function writeMarker(dataDir: string, path: string): void {
  mkdirSync(dataDir, { recursive: true });
  replaceFileDurably(
    path,
    `format=${FORMAT_VERSION}\nslots=${SLOT_FUNCTION}\n`,
    `${path}.${process.pid}.tmp`,
  );
}
