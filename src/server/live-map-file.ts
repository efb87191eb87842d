/**
 * The live map on disk: `<data_dir>/live-map.json`, the JSON of the last LiveMap this process adopted
 * (src/routing/live-map.ts). Written atomically (temp file, fsync, rename, fsync of the directory) so
 * a crash leaves the old map or the new one, never a torn one. A missing file means the config's
 * initial map. A file that no longer fits the config (other shards or members: the config was
 * edited on purpose) keeps, per shard it still names, its leader, epoch and history when past epoch 0
 * and the leader is still a member (src/routing/map-refit.ts); the other shards start from the
 * config's leaders. A file that exists and cannot be read, or a map
 * of this config's shards that is not valid (not JSON, a bad field, a history out of order), stops
 * the start with an error naming it: it can only come from a damaged disk or a hand edit, and the
 * config's leaders are stale after any failover (a node starting from them could lead a shard
 * another node leads now). `installLiveMap` (`distkv map fetch`) writes a peer's map in its place.
 * A refit is saved by the start once its peers were asked (MapKeeper.saveRefit), so it is said
 * once: unsaved, every later start of every node said it again until a failover wrote a new map
 * (test/e2e/map-refit-warns-once.test.ts).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { initialLiveMap, type LiveMap, parseLiveMap } from '../routing/live-map.js';
import { refittedMap } from '../routing/map-refit.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { permissionDenied } from '../storage/dir-errors.js';
import { replaceFileDurably } from '../util/durable-file.js';

/** LIVE_MAP_FILE is the file name of the persisted live map inside the data directory. */
export const LIVE_MAP_FILE = 'live-map.json';

/** loadLiveMap reads the persisted map of `dataDir`, or returns the config's initial map. */
export function loadLiveMap(dataDir: string, config: readonly ShardInfo[], log?: Logger): LiveMap {
  return readLiveMap(dataDir, config, log).map;
}

/**
 * readLiveMap is loadLiveMap saying whether the map is a refit of a file saved under another
 * config (`refit`: not on disk yet; the caller saves it once it holds the data directory).
 */
export function readLiveMap(
  dataDir: string,
  config: readonly ShardInfo[],
  log?: Logger,
): { map: LiveMap; refit: boolean } {
  const path = join(dataDir, LIVE_MAP_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // ENOTDIR: the data directory is not a directory, so it holds no map (the lock says so next).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { map: initialLiveMap(config), refit: false };
    // A data directory distkv may not enter is not the map's fault: removing the map would not help.
    if ((code === 'EACCES' || code === 'EPERM') && !canEnter(dataDir))
      throw permissionDenied(dataDir, code, 'read the data directory');
    // Unreadable is not missing: the config's map could make a demoted leader lead again.
    throw new DistkvError(
      'CONFIG_INVALID',
      `cannot read the live map ${path}: ${(err as Error).message}; fix its permissions (or the disk), or remove it to start from the config's leaders (peers' newer maps are adopted at start)`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw damaged(path, `it is not valid JSON (${(err as Error).message})`);
  }
  const misfits = configMisfits(doc, config);
  if (misfits.length > 0) {
    // The config was edited (members changed): keep what the map knew of each shard it still
    // fits (map-refit.ts), so a failover made before the edit is not undone.
    const refit = refittedMap(doc, config);
    log?.warn(
      { file: path, misfit: misfits, kept: refit.kept },
      `the live map ${path} was saved under another sharding.toml (${misfits.join('; ')}): the map now follows the config's members; ` +
        (refit.kept.length === 0
          ? "every shard starts from the config's leader"
          : `${refit.kept.join(', ')} ${refit.kept.length === 1 ? 'keeps its' : 'keep their'} leader, epoch and history from the saved map (a failover made them)${refit.kept.length < config.length ? ", the other shards start from the config's leaders" : ''}`) +
        (refit.orphaned.length === 0 ? '. The adjusted map is saved once the start has asked the peers' : ''),
    );
    if (refit.orphaned.length > 0)
      log?.error(
        { file: path, shards: refit.orphaned },
        `the config no longer lists the leader the live map names for ${refit.orphaned.join(', ')}: the start refuses this config unless etcd or a peer has a newer map for the shard (src/server/removed-leaders.ts). Fail a shard over to a member the new config keeps before removing its leader`,
      );
    return { map: refit.map, refit: true };
  }
  let map: LiveMap;
  try {
    map = parseLiveMap(doc, config);
  } catch (err) {
    throw damaged(path, (err as Error).message);
  }
  for (const note of leaderEdits(map, config))
    log?.warn(
      { file: path, shard: note.shard, config_leader: note.configured, leader: note.leader },
      note.text,
    );
  return { map, refit: false };
}

/** LeaderEdit is a shard whose leader in the config differs from the one the saved map keeps, never moved by a failover. */
export interface LeaderEdit {
  shard: string;
  configured: string;
  leader: string;
  text: string;
}

/**
 * leaderEdits lists the shards of `map` (a saved map that fits `config`) whose leader never
 * changed (epoch 0, or only epochs its leader started itself after an unclean stop, `restart`)
 * and is another member than the config's `address`. Such a map's leader is the config's of the
 * run that wrote it, so the file was edited to name another leader of the same members since: the
 * map keeps its leader (a leader changed without a new epoch could lack writes the old one
 * acknowledged), and the edit did nothing, without a word (at epoch 64 after an unclean stop too,
 * as a tester found). Shards a failover moved have a configured leader stale by design
 * (docs/failover.md, "How a map spreads").
 */
export function leaderEdits(map: LiveMap, config: readonly ShardInfo[]): LeaderEdit[] {
  const out: LeaderEdit[] = [];
  for (const s of map.shards) {
    const c = config.find((x) => x.idx === s.idx);
    if (c === undefined || s.history.some((h) => h.restart !== true) || c.address === s.leader) continue;
    out.push({
      shard: s.name,
      configured: c.address,
      leader: s.leader,
      text: `${s.name}: the config names ${c.address} as its leader, but the live map (version ${String(map.version)}) keeps ${s.leader}: the live map decides who leads (the config is the initial map); to move the shard, run distkv failover --shard ${s.name} --to ${c.address}`,
    });
  }
  return out;
}

/**
 * damaged is the error that stops a start on a map file written for this config that is not a
 * valid map. The writes are atomic and durable (saveLiveMap), so it was damaged (the disk, a hand
 * edit): its leaders are unknown, and the config's are stale after any failover, so starting from
 * them could lead a shard another node leads now.
 */
function damaged(path: string, what: string): DistkvError {
  return new DistkvError(
    'CORRUPTION',
    `the live map ${path} is damaged: ${what}; this node does not know which shards it leads. Replace it with a running peer's map: distkv map fetch --from PEER --config FILE --data-dir ${dirname(path)} (FILE: this node's own sharding.toml, whose shards the peer's map must be of; this node stopped; or, only when no node took over a shard while this one was down, remove it to start from the config's leaders)`,
  );
}

/**
 * configMisfits says why `doc` is not a map of this config's shards, one clause per shard that
 * differs (empty: it names the same shards, by idx and name, with the same members): the config
 * was edited on purpose, and the map no longer applies. A map of these shards that fails the other
 * checks is damaged instead.
 */
function configMisfits(doc: unknown, config: readonly ShardInfo[]): string[] {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return ['the saved map lists no shards'];
  if (shards.length !== config.length)
    return [`the saved map has ${String(shards.length)} shards, the config ${String(config.length)}`];
  const out: string[] = [];
  for (const c of config) {
    const s = (shards as unknown[]).find(
      (x) => typeof x === 'object' && x !== null && (x as { idx?: unknown }).idx === c.idx,
    ) as { name?: unknown; leader?: unknown; replicas?: unknown } | undefined;
    if (s?.name !== c.name) {
      out.push(
        `shard ${String(c.idx)} is ${typeof s?.name === 'string' ? s.name : 'missing'} in the saved map, ${c.name} in the config`,
      );
      continue;
    }
    const listed = [s.leader, ...(Array.isArray(s.replicas) ? (s.replicas as unknown[]) : [])];
    const members = new Set<unknown>([c.address, ...c.replicas]);
    if (listed.length !== members.size || !listed.every((m) => members.has(m)))
      out.push(
        `${c.name}: the saved map lists the members ${listed.map(String).join(', ')}, the config ${[...members].map(String).join(', ')}`,
      );
  }
  return out;
}

/** saveLiveMap writes `map` to `dataDir` atomically and durably. */
export function saveLiveMap(dataDir: string, map: LiveMap): void {
  mkdirSync(dataDir, { recursive: true });
  replaceFileDurably(join(dataDir, LIVE_MAP_FILE), `${JSON.stringify(map, null, 1)}\n`);
}

/** MapInstall says what `installLiveMap` found in the file and whether it wrote the new map. */
export interface MapInstall {
  /** before describes the file before: "none", "version N", "damaged: ...", "for another config: ...". */
  before: string;
  written: boolean;
  map: LiveMap;
}

/**
 * installLiveMap writes `doc` (untrusted: a peer's `GET /cluster` map) as `dataDir`'s live map,
 * durably, once it is a valid map of the config's shards (parseLiveMap: INVALID_ARGUMENT
 * otherwise). It replaces a missing, damaged, unreadable or other config's file, or a valid map
 * of a lower version; a valid one of the same version and content is left as it is (`written`
 * false). A valid map of a higher version, or of the same version with other entries (maps made
 * apart: the node's start merges them with its peers'), is never overwritten: INVALID_ARGUMENT
 * saying so. The caller holds the data directory's lock (no node runs on it).
 */
export function installLiveMap(dataDir: string, config: readonly ShardInfo[], doc: unknown): MapInstall {
  const map = parseLiveMap(doc, config);
  const path = join(dataDir, LIVE_MAP_FILE);
  let before = 'none';
  let current: LiveMap | undefined;
  if (existsSync(path)) {
    try {
      const misfits = configMisfits(JSON.parse(readFileSync(path, 'utf8')), config);
      if (misfits.length === 0) {
        current = loadLiveMap(dataDir, config);
        before = `version ${current.version}`;
      } else before = `a map of another config (${misfits.join('; ')})`;
    } catch (err) {
      before = `damaged (${(err as Error).message})`;
    }
  }
  if (current !== undefined) {
    if (current.version > map.version || (current.version === map.version && !sameMap(current, map)))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `${path} holds a valid live map of version ${current.version}, ${current.version > map.version ? 'newer than' : 'other than, at the same version as'} the fetched version ${map.version}: left alone (a node merges maps made apart, and adopts its peers' newer ones, when it starts)`,
      );
    if (current.version === map.version) return { before, written: false, map };
  }
  saveLiveMap(dataDir, map);
  return { before, written: true, map };
}

/** sameMap tells whether two maps are one (compared as their JSON, as they are written). */
function sameMap(a: LiveMap, b: LiveMap): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** canEnter tells whether this process may list and enter the directory `dir`. */
function canEnter(dir: string): boolean {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
