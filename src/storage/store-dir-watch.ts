/**
 * StoreDirWatch: notices that a store's directory was removed (`rm -rf`) or replaced by another
 * while the store runs, and from then on holds the refusal its writes get.
 *
 * A store keeps its runs and LMDB files open, so a removed directory goes unnoticed by reads and by
 * the log (the worker's commit log lives outside it, in `<data_dir>/log/`): writes kept getting
 * 204 until a memtable flush failed to create its run, and the next start refused the store
 * (CORRUPTION: its directory is missing while the log holds its records). Everything the store held
 * is gone at that start; writes acknowledged after the store could know would be lost with it.
 *
 * The identity of the directory (device and inode, `Vfs.dirIdentity`) is taken at open and compared
 * at every flush and compaction (before either writes into it) and on a timer (`checkMs`, 1 s by
 * default, unref'd), never per write: a write only reads `lost`. Once it differs the store is
 * `lost` for good (putting a directory back does not bring back what the store wrote into the old
 * one since), logged once as an error naming the directory and what to do, and told once to
 * `onLost` (the worker publishes it in the positions, so /cluster names the store without asking it).
 * Used only on the store's worker thread.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import type { Vfs } from './vfs.js';

/** DIR_CHECK_MS is how often an open store checks its directory is still the one it opened. */
export const DIR_CHECK_MS = 1000;

/** StoreDirWatchOptions say which directory to watch, through which Vfs, and where to log. */
export interface StoreDirWatchOptions {
  vfs: Vfs;
  dir: string;
  log?: Logger | undefined;
  /** checkMs overrides DIR_CHECK_MS (0: no timer, only the checks before flushes and compactions). */
  checkMs?: number | undefined;
  /** onLost hears the refusal once, when the directory is found gone (the worker publishes it for /cluster). */
  onLost?: ((lost: DistkvError) => void) | undefined;
}

/** StoreDirWatch watches one store directory; `lost` is the refusal once it is gone. */
export class StoreDirWatch {
  /** lost is the error every write gets once the directory is gone (undefined while it is in place). */
  lost: DistkvError | undefined;
  private readonly opts: StoreDirWatchOptions;
  private readonly identity: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: StoreDirWatchOptions) {
    this.opts = opts;
    this.identity = opts.vfs.dirIdentity(opts.dir);
    const ms = opts.checkMs ?? DIR_CHECK_MS;
    if (ms > 0 && this.identity !== undefined) {
      this.timer = setInterval(() => {
        if (this.check() !== undefined) this.stop();
      }, ms);
      this.timer.unref();
    }
  }

  /** check compares the directory with the one opened; returns the refusal once it is gone. */
  check(): DistkvError | undefined {
    if (this.lost !== undefined || this.identity === undefined) return this.lost;
    let now: string | undefined;
    try {
      now = this.opts.vfs.dirIdentity(this.opts.dir);
    } catch {
      // Unreadable for a moment (a permission change): not proof that it is gone.
      return undefined;
    }
    if (now === this.identity) return undefined;
    const { dir } = this.opts;
    const what = now === undefined ? 'was removed' : 'was replaced by another directory';
    this.lost = new DistkvError(
      'STORE_DIR_LOST',
      `store directory ${dir} ${what} while the node runs: writes to this store are refused, since ` +
        `what it would write is gone at the next start; reads still work from the files the process ` +
        `holds open: copy its data out now (distkv backup, or distkv failover to a replica), then ` +
        `stop the node and start it with --repair (which opens the store empty) and restore it`,
    );
    this.opts.log?.error({ dir, code: 'STORE_DIR_LOST' }, this.lost.message);
    this.stop();
    this.opts.onLost?.(this.lost);
    return this.lost;
  }

  /** stop ends the timer (the store closed, or the directory is gone). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
