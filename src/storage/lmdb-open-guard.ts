/**
 * What is checked before LMDB opens an environment, because LMDB's own failure to open one ends
 * the process. lmdb-js (3.x, its `EnvWrap::openEnv`) frees the environment's extension twice when
 * `mdb_env_open` fails, once itself and once in the close it then calls: a segmentation fault, no
 * error, every store of the process gone with it. A tester found it by opening 128 stores under
 * `ulimit -n 300`: the stores past the limit's reach did not fail with EMFILE, the process died
 * (exit 139) after its "listening" lines.
 *
 * The failure that is not caught earlier is running out of file descriptors (EMFILE): LMDB opens
 * its data file, its lock file and a second handle of the data file for synced writes. So before
 * each open the process's free descriptors are counted (`/proc/self/fd` against the soft limit of
 * `/proc/self/limits`), and a store is refused with TOO_MANY_OPEN_FILES, naming it and the limit,
 * when fewer than OPEN_ROOM are left: room for this open and for those other threads start at the
 * same time (a worker opens its stores one after the other; the margin covers several workers and
 * the sockets accepted meanwhile). The store is then not served (503, as any store that fails to
 * open) and the rest of the process is. Any other failure of LMDB's open would end the process
 * the same way: a data file cut short or damaged is refused before by lmdb-file-check.ts, a
 * directory that cannot be made by openKvEnv's mkdir (dir-errors.ts); other causes (a read-only
 * file system met here first) are not checked.
 */
import { readdirSync } from 'node:fs';
import { DistkvError } from '../errors.js';
import { openFileLimit } from '../server/open-file-limit.js';

/** OPEN_ROOM is the fewest free file descriptors an LMDB open is tried with (see above). */
export const OPEN_ROOM = 32;

/** FileRoom is the process's open files and its limit (undefined: unlimited or unknown). */
export interface FileRoom {
  open: number;
  limit: number | undefined;
}

/** fileRoom counts this process's open file descriptors; `open` is the limit when they cannot be counted for want of one. */
export function fileRoom(limit = openFileLimit()): FileRoom | undefined {
  if (limit === undefined) return undefined;
  try {
    // Less the descriptor the listing itself holds.
    return { open: readdirSync('/proc/self/fd').length - 1, limit };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Not one descriptor left to read the list with.
    if (code === 'EMFILE' || code === 'ENFILE') return { open: limit, limit };
    return undefined;
  }
}

/**
 * checkRoomToOpen throws TOO_MANY_OPEN_FILES for the LMDB file `file` when the process has fewer
 * than OPEN_ROOM free descriptors (`room`: counted when not given; nothing is checked where they
 * cannot be).
 */
export function checkRoomToOpen(file: string, room: FileRoom | undefined = fileRoom()): void {
  if (room?.limit === undefined) return;
  const free = room.limit - room.open;
  if (free >= OPEN_ROOM) return;
  throw new DistkvError(
    'TOO_MANY_OPEN_FILES',
    `${file} not opened: the process holds ${room.open} open files of its limit ${room.limit} ` +
      `(ulimit -n), and opening LMDB takes a few (${OPEN_ROOM} are kept free for it); raise the ` +
      'open-file limit (LimitNOFILE in the systemd unit, or ulimit -n) and restart the node, or give it fewer stores',
  );
}
