/**
 * Divergence files: the records a store cut off when it learned that a newer epoch forked from its
 * history below them (docs/failover.md). Nothing is dropped silently: before the store follows the
 * new leader, its records above the fork point are written, in WAL record framing
 * (docs/wal-format.md, no segment header), to a file beside the store directory:
 *   `<store dir>.diverged-<epoch>-<first seq>-<last seq>[.<n>].log`
 * where `epoch` is the epoch that forked: the epoch of the leader that told the store so, a leader
 * that never had these records (its epoch as it answered the pull 409 DIVERGED: `X-Distkv-Epoch`
 * over HTTP), or the shard's epoch in the new map for a role change. It may be later than the
 * epoch whose start is the fork point (the leader moved on since), never earlier; it is not the
 * store's own epoch, whose map may lag that leader (it learns of the new epoch from that very
 * answer) and which names the file only when a leader does not say
 * (test/unit/diverged-fork-epoch.test.ts). `.<n>` (2, 3, …) tells apart files whose name would
 * otherwise be the same but hold other records: one epoch number can fork a store twice over the
 * same range (a restart epoch and a failover made apart take the same number), and the second save
 * replaced the first file, the only copy of its records. The file is fsynced (as `.partial`, then
 * renamed) before the store is rebuilt, and `/stats` counts the records of these files
 * (`divergedRecords`, `divergedFiles`). A fork is saved once: when a file beside the store already
 * holds the same seq range with the same bytes (the same fork seen twice, as a pull's 409 DIVERGED
 * and as a new map's fork, under another epoch when the map is newer than the leader's answer), a
 * second save keeps that file and writes none.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DistkvError } from '../errors.js';
import { RealVfs } from '../storage/real-vfs.js';
import type { Logger } from 'pino';
import type { StoreReplication } from '../storage/store-replication.js';
import type { StoreSpec } from '../worker/messages.js';

const READ_BYTES = 4 * 1024 * 1024;

/** divergedFileOf names the divergence file of store directory `dir`. */
export function divergedFileOf(dir: string, epoch: number, first: number, last: number): string {
  return `${dir}.diverged-${epoch}-${first}-${last}.log`;
}

/** parseDivergedName reads a file name of `divergedFileOf` for store directory base name `base`. */
export function parseDivergedName(
  base: string,
  name: string,
): { epoch: number; first: number; last: number } | undefined {
  const m = /^(.*)\.diverged-(\d+)-(\d+)-(\d+)(?:\.\d+)?\.log$/.exec(name);
  if (m?.[1] !== base) return undefined;
  return { epoch: Number(m[2]), first: Number(m[3]), last: Number(m[4]) };
}

/**
 * saveDiverged writes every record of `store` above `fork` to `file` and fsyncs it. It throws
 * CORRUPTION when the log no longer holds them (compacted away): the store must then not be rebuilt.
 * The records go to `file.partial` first, renamed once whole: a file named with a seq range holds
 * that range, so `/stats` never counts records a save that gave up did not keep. When a file
 * beside it already holds those records (savedAs), that file is kept and `records` is 0.
 */
export function saveDiverged(
  store: Pick<StoreReplication, 'lastSeq' | 'readLog'>,
  file: string,
  fork: number,
): { file: string; records: number } {
  const last = store.lastSeq();
  const partial = `${file}.partial`;
  const fd = openSync(partial, 'w');
  try {
    for (let after = fork; after < last;) {
      const r = store.readLog(after, READ_BYTES);
      if (r === 'gone' || r.lastSeq <= after)
        throw new DistkvError(
          'CORRUPTION',
          `records ${after + 1}..${last} above the fork point are no longer in the log; keeping the store as it is`,
        );
      writeSync(fd, r.records);
      after = r.lastSeq;
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw err;
  }
  closeSync(fd);
  const saved = savedAs(file, partial);
  if (saved !== undefined) {
    rmSync(partial, { force: true });
    return { file: saved, records: 0 };
  }
  const free = freeName(file);
  renameSync(partial, free);
  new RealVfs().syncDir(dirname(free));
  return { file: free, records: last - fork };
}

/** freeName is `file`, or when a file of that name exists (with other records), the first `<name>.<n>.log` that does not. */
function freeName(file: string): string {
  if (!existsSync(file)) return file;
  const stem = file.slice(0, -'.log'.length);
  let n = 2;
  while (existsSync(`${stem}.${n}.log`)) n++;
  return `${stem}.${n}.log`;
}

/** savedAs names a divergence file beside `file` that holds its seq range (any epoch) with the bytes of `partial`, if any. */
function savedAs(file: string, partial: string): string | undefined {
  const m = /^(.*)\.diverged-\d+-(\d+)-(\d+)\.log$/.exec(basename(file));
  if (m === null) return undefined;
  const dir = dirname(file);
  const size = statSync(partial).size;
  let bytes: Buffer | undefined;
  for (const name of readdirSync(dir)) {
    const d = parseDivergedName(m[1]!, name);
    if (d?.first !== Number(m[2]) || d.last !== Number(m[3])) continue;
    const other = join(dir, name);
    if (statSync(other).size !== size) continue;
    bytes ??= readFileSync(partial);
    if (readFileSync(other).equals(bytes)) return other;
  }
  return undefined;
}

/**
 * saveFork writes the records replica `spec`'s `store` holds above seq `fork` (a leader of epoch
 * `epoch`, the epoch that forked, never had them) to a divergence file beside it named with that
 * epoch, and logs it; the caller then resyncs it. Throws as saveDiverged does.
 */
export function saveFork(
  spec: StoreSpec,
  store: StoreReplication,
  fork: number,
  epoch: number,
  log: Logger | undefined,
): void {
  const { name } = spec.shard;
  const saved = saveDiverged(store, divergedFileOf(spec.dir, epoch, fork + 1, store.lastSeq()), fork);
  if (saved.records === 0 && store.lastSeq() > fork) {
    log?.info(
      { shard: name, node: spec.node, fork, epoch, file: saved.file },
      `store ${name} on ${spec.node}: its records above seq ${fork} are already saved in ${saved.file}; rebuilding from the new leader`,
    );
    return;
  }
  log?.warn(
    { shard: name, node: spec.node, fork, epoch, ...saved },
    `store ${name} on ${spec.node} holds ${saved.records} records above seq ${fork} that the leader of epoch ${epoch} never had: saved to ${saved.file}; rebuilding from the new leader`,
  );
}

/**
 * trySaveFork is saveFork for a role change (`fork` from the new map): it says whether the records
 * were saved. When they could not be (no longer in the log), it logs why and the store is kept as
 * it is: not rebuilt over records nobody saved, its follower (capped at the fork) fails the same
 * way at every pull, so /stats shows it `disconnected` with that error (docs/failover.md).
 */
export function trySaveFork(
  spec: StoreSpec,
  store: StoreReplication,
  fork: { seq: number; epoch: number },
  log: Logger | undefined,
): boolean {
  try {
    saveFork(spec, store, fork.seq, fork.epoch, log);
    return true;
  } catch (err) {
    log?.error(
      { shard: spec.shard.name, node: spec.node, fork: fork.seq, err: (err as Error).message },
      `store ${spec.shard.name} on ${spec.node} cannot save its records above seq ${fork.seq} before following the new leader: kept as it is, not following`,
    );
    return false;
  }
}

/** countDiverged counts the records and files the forks of the store in `dir` left beside it (from the file names). */
export function countDiverged(dir: string | undefined): { divergedRecords: number; divergedFiles: number } {
  if (dir === undefined) return { divergedRecords: 0, divergedFiles: 0 };
  let records = 0;
  let files = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    // no parent directory yet
  }
  for (const name of names) {
    const d = parseDivergedName(basename(dir), name);
    if (d === undefined) continue;
    files++;
    records += d.last - d.first + 1;
  }
  return { divergedRecords: records, divergedFiles: files };
}
