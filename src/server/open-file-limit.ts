/**
 * The process's open-file limit (RLIMIT_NOFILE, `ulimit -n`) and the client connections it leaves
 * room for. Every connection is a file descriptor, and so is every file the stores open: LMDB's
 * map, each SSTable run (kept open while it exists), a memtable flush's new run, a compaction's
 * output, the worker commit logs' segments. With `server.max_connections` (10000 by default) over
 * the limit, a flood of client connections took every descriptor: a memtable flush then failed
 * with EMFILE and writes were refused (507) until the clients went away, replicas in the process
 * stopped following, and new connections were accepted and dropped by the kernel's backlog
 * handling without a word in the log.
 *
 * So the node admits at most the limit minus what its stores and itself may need
 * (`fileReserve`), as Redis lowers `maxclients` to its file limit, and says so at start with
 * the limit that would keep the configured number (`fitConnections`). Connections over it are
 * refused with an answer (src/server/connection-limit.ts), which costs a descriptor only briefly.
 *
 * The limit is read from /proc/self/limits (Linux); where it cannot be read, nothing is lowered.
 */
import { readFileSync } from 'node:fs';

/** BASE_FILES is what a process holds besides its stores: Node, the listeners, logs, threads' event loops, peers, the forwarder, etcd. */
const BASE_FILES = 128;
/** WORKER_FILES is what a worker thread holds besides its stores: its commit log's segments, the spare, its event loop. */
const WORKER_FILES = 16;
/** STORE_FILES is what a store holds besides its runs: LMDB's map, a flush's and a compaction's new file, a snapshot being read. */
const STORE_FILES = 8;
/** MIN_CONNECTIONS is the fewest connections admitted however low the limit (peers' pulls and an operator's CLI need a few). */
export const MIN_CONNECTIONS = 16;

/**
 * openFileLimit is the soft limit on open files of this process, or undefined when it is
 * unlimited or cannot be read. `limits` is the text of /proc/self/limits (read when not given).
 */
export function openFileLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = /^Max open files\s+(\S+)/m.exec(text);
  if (line === null) return undefined;
  const soft = Number(line[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
}

/** FileNeeds says what a process's stores may hold open. */
export interface FileNeeds {
  stores: number;
  workers: number;
  /** maxRuns is `storage.max_runs`: a store may hold twice as many runs while compaction catches up. */
  maxRuns: number;
  /** refusing is how many refused connections may wait for their answer to be written at once. */
  refusing: number;
}

/** fileReserve is how many descriptors the process keeps for itself and its stores (not for clients). */
export function fileReserve(needs: FileNeeds): number {
  return (
    BASE_FILES +
    needs.workers * WORKER_FILES +
    needs.stores * (STORE_FILES + 2 * needs.maxRuns) +
    needs.refusing
  );
}

/** ConnectionFit is the connection limit a node runs with. */
export interface ConnectionFit {
  /** max is the most client connections admitted. */
  max: number;
  /** lowered, when set, says why `max` is below `server.max_connections` (a warning at start). */
  lowered?: string;
}

/**
 * fitConnections lowers `configured` (`server.max_connections`) to what `limit` (the open-file
 * limit; undefined: unlimited) leaves after `reserve`, never below MIN_CONNECTIONS, and says why.
 */
export function fitConnections(
  configured: number,
  limit: number | undefined,
  reserve: number,
): ConnectionFit {
  if (limit === undefined || configured + reserve <= limit) return { max: configured };
  const max = Math.max(MIN_CONNECTIONS, limit - reserve);
  const room =
    limit - reserve >= MIN_CONNECTIONS
      ? `server.max_connections lowered from ${configured} to ${max}`
      : `the stores may need more than the limit leaves: server.max_connections lowered from ${configured} to ${max}, and stores may fail to open files (EMFILE)`;
  return {
    max,
    lowered:
      `the open-file limit (ulimit -n) is ${limit} and this node's stores may hold about ${reserve} files: ${room}; ` +
      `raise the limit to ${configured + reserve} (ulimit -n, or LimitNOFILE= in a systemd unit) to admit ${configured} clients`,
  };
}
