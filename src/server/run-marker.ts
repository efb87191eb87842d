/**
 * The RUNNING marker: whether the last process that served a data directory stopped cleanly
 * (docs/failover.md, "A leader restarting after a crash").
 *
 * On disk: `<data_dir>/RUNNING`, one line of JSON naming the run: `{"pid":…,"durability":"interval"}`.
 * It is written durably (src/util/durable-file.ts) once the data directory's lock is held and
 * before any store opens (a start that cannot write it fails naming the file and the fix: free
 * space, or another data directory; its temporary file removed), and removed durably once every store has closed (its final flush and
 * sync). Found at start, it says the run it names ended without that close: a kill, a crash or a
 * power cut. A data directory without it was closed by its last run, or is new.
 *
 * Invariant: while a process serves the directory, `RUNNING` names a durability mode no safer
 * than the one any record still in its logs was written under. So a new run that follows a lossy
 * one (below) keeps naming that run's mode until it closes cleanly: a crash before it started its
 * new epochs makes the next run start them again (one spare epoch at worst, never one missing).
 *
 * `lossy`: the last run ended uncleanly in durability mode "interval" or "none". Its stores showed
 * records to readers (replicas, watchers, GETs) before syncing them, so a power cut (or, for what
 * was still in the process, a kill) may have taken records that readers hold, and the restarted
 * stores give their seqs again: the node starts a new epoch for every shard it leads
 * (restart-epochs.ts, etcd-coordinator.ts). In mode "fsync" a batch is applied and shown only
 * after its fdatasync (src/storage/commit-log.ts), so no reader can hold a record a crash took.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { removeFileDurably, replaceFileDurably } from '../util/durable-file.js';
import { dataDirUnwritable } from './data-dir-lock.js';

/** RUNNING_FILE is the marker's file name inside the data directory. */
export const RUNNING_FILE = 'RUNNING';

/** LastRun is the run a marker found at start names: it did not stop cleanly. */
export interface LastRun {
  pid: number;
  durability: Durability;
}

/** RunMarker is this process's RUNNING marker, from start until its stores are closed. */
export class RunMarker {
  /** lastRun is the run that left the marker (undefined: the last stop was clean, or the directory is new). */
  readonly lastRun: LastRun | undefined;
  private readonly file: string;

  private constructor(file: string, lastRun: LastRun | undefined) {
    this.file = file;
    this.lastRun = lastRun;
  }

  /** open reads the marker the last run left in `dataDir`, then writes this run's (`durability`: its mode). */
  static open(dataDir: string, durability: Durability): RunMarker {
    const file = join(dataDir, RUNNING_FILE);
    const lastRun = existsSync(file) ? readRun(file) : undefined;
    const m = new RunMarker(file, lastRun);
    const named = m.lossy && lastRun !== undefined ? lastRun.durability : durability;
    try {
      replaceFileDurably(file, `${JSON.stringify({ pid: process.pid, durability: named })}\n`);
    } catch (err) {
      // A full disk (the LOCK took its last block), a read-only one: name the file and the fix.
      throw dataDirUnwritable(dataDir, err, file);
    }
    return m;
  }

  /** lossy tells whether the last run stopped uncleanly in a mode that shows records before syncing them. */
  get lossy(): boolean {
    return this.lastRun !== undefined && this.lastRun.durability !== 'fsync';
  }

  /**
   * close removes the marker, durably: call it only once every store has closed. A marker it
   * cannot remove (the data directory removed while the node ran, a failing disk) is logged as
   * one error naming it and why, and the stop goes on: before, the error ended the stop there,
   * with a stack, leaving the lock held and no "stopped" line.
   */
  close(log: Logger): void {
    try {
      removeFileDurably(this.file);
    } catch (err) {
      const gone = !existsSync(dirname(this.file));
      log.error(
        { file: this.file, err: (err as Error).message },
        gone
          ? `the data directory ${dirname(this.file)} is gone (removed while the node ran): nothing of this run is left in it`
          : `could not remove the RUNNING marker ${this.file}: the next start there takes this stop for a crash (its warning says so; nothing is lost by that)`,
      );
    }
  }
}

/**
 * lastRunOf returns the run whose marker `dataDir` holds (it did not stop cleanly), without writing
 * one, or undefined; for tools that run with the server stopped (`distkv load`).
 */
export function lastRunOf(dataDir: string): LastRun | undefined {
  const file = join(dataDir, RUNNING_FILE);
  return existsSync(file) ? readRun(file) : undefined;
}

/** readRun parses a marker; one that cannot be read names an unknown run, taken as lossy. */
function readRun(file: string): LastRun {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; durability?: unknown };
    const durability = doc.durability;
    if (durability === 'fsync' || durability === 'interval' || durability === 'none')
      return { pid: Number.isSafeInteger(doc.pid) ? (doc.pid as number) : 0, durability };
  } catch {
    // unreadable: as below
  }
  return { pid: 0, durability: 'none' };
}
