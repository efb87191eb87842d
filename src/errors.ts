/**
 * The one catalogue of distkv errors.
 *
 * Every error that can reach a user carries a stable string `code`; `ERROR_CATALOGUE` maps each code
 * to its HTTP status and says when it is thrown. The server turns an error into
 * `{"error":{"code","message"}}` with that status; the client library and the worker channel rebuild
 * it from `{code, message}` with `errorFromWire()`. Messages name the field and the expected bound.
 */

/** ERROR_CATALOGUE lists every error code with its HTTP status and when it is thrown. */
export const ERROR_CATALOGUE = {
  /** thrown when a request is malformed in a way no more specific code covers. */
  BAD_REQUEST: { status: 400 },
  /** thrown when the key parameter or path segment is missing or empty. */
  MISSING_KEY: { status: 400 },
  /** thrown when a key is not valid UTF-8, has bad percent-encoding, or is too long. */
  INVALID_KEY: { status: 400 },
  /** thrown when a query parameter or body field has a value outside its allowed range. */
  INVALID_ARGUMENT: { status: 400 },
  /** thrown when a request body cannot be parsed (bad JSON, wrong shape). */
  INVALID_BODY: { status: 400 },
  /** thrown when an internal endpoint is called without the configured bearer token. */
  UNAUTHORIZED: { status: 401 },
  /** thrown when two nodes (or a client and a node) route with different configs (their /cluster hashes differ), or the live map in etcd does not fit this node's config. */
  CONFIG_MISMATCH: { status: 409 },
  /** thrown when a replica asks for log records older than the leader retains (it must resync from a snapshot). */
  LOG_GONE: { status: 410 },
  /** thrown when a replica pulls after a seq beyond the leader's last one: it holds another history and must resync. */
  REPLICA_AHEAD: { status: 409 },
  /** thrown when a pull's (epoch, seq) is not on the leader's epoch history: the replica's records above the fork seq (sent with it) are not the leader's. */
  DIVERGED: { status: 409 },
  /** thrown when a pull names an epoch newer than the leader's: this leader was deposed by a newer live map. */
  STALE_LEADER: { status: 409 },
  /** thrown by `distkv failover` when the live map changed under it (another failover won): nothing was changed by the command. */
  MAP_CHANGED: { status: 409 },
  /** thrown when a pull names a replica that is not a configured replica of the shard. */
  UNKNOWN_REPLICA: { status: 403 },
  /** thrown when a key does not exist. */
  NOT_FOUND: { status: 404 },
  /** thrown when a write's If-Match / If-None-Match condition does not hold (the key's current version is sent with it). */
  PRECONDITION_FAILED: { status: 412 },
  /** thrown for an operation of a batch with conditions that was not applied because another operation's condition failed. */
  BATCH_ABORTED: { status: 409 },
  /**
   * thrown (as the seed's text) when `/delete-replication-key` acknowledges a change that is not
   * the next one of the seed cursor (another replica acknowledged it first, or a stale or made-up
   * pair): nothing is advanced. The seed answered it 500; its replica reads only the body.
   */
  SEED_ACK_NOT_NEXT: { status: 409 },
  /** thrown when no route matches the request path. */
  ROUTE_NOT_FOUND: { status: 404 },
  /** thrown when the route exists but not for this HTTP method. */
  METHOD_NOT_ALLOWED: { status: 405 },
  /** thrown when a value is larger than `server.max_value_bytes`. */
  VALUE_TOO_LARGE: { status: 413 },
  /** thrown when a request body (other than a value) is larger than its limit. */
  BODY_TOO_LARGE: { status: 413 },
  /** thrown when a request target (path and query) is longer than the server reads. */
  URL_TOO_LONG: { status: 414 },
  /** thrown when a request's `Expect` names an expectation other than `100-continue` (RFC 9110 section 10.1.1). */
  EXPECTATION_FAILED: { status: 417 },
  /** thrown when a request's method is longer than any method distkv implements (RFC 9112 section 3.1). */
  NOT_IMPLEMENTED: { status: 501 },
  /** thrown when a request head (request line and header fields) is larger than the server reads. */
  HEAD_TOO_LARGE: { status: 431 },
  /** thrown when a request head does not arrive whole within the server's head deadline (a slow drip). */
  REQUEST_TIMEOUT: { status: 408 },
  /** thrown when part of a multi-key request belongs to a shard this node neither hosts nor forwards to. */
  WRONG_NODE: { status: 421 },
  /** thrown when a store or worker fails unexpectedly. */
  INTERNAL: { status: 500 },
  /** thrown when the owning store is not open (starting, crashed or closed). */
  UNAVAILABLE: { status: 503 },
  /** thrown when the node is draining for shutdown. */
  DRAINING: { status: 503 },
  /** thrown while the node is starting (its stores are not open yet): nothing was executed, so any request may be sent again. */
  STARTING: { status: 503 },
  /** thrown when a write reaches a shard whose leader is being switched (retry after Retry-After seconds). */
  SWITCHING_LEADER: { status: 503 },
  /**
   * thrown for a request on a shard whose leader here started behind a replica of the shard: on an
   * empty store (its data directory new, lost or replaced) or an older one (put back from an older
   * copy) while the replica holds more. Served, it would answer without those records and its
   * replicas would drop their copy. Not executed, reads included: promote the replica
   * (`distkv failover --to REPLICA`), and this node then follows it (docs/failover.md).
   */
  LEADER_BEHIND: { status: 503 },
  /** thrown when a shard's owner cannot be reached (for a write a node relayed or forwarded: nothing reached the owner, it was not applied). */
  SHARD_UNREACHABLE: { status: 503 },
  /**
   * thrown by a node for a write it relayed (`--proxy`) or forwarded (a batch part) to its owner
   * that did not answer after the write was sent (a timeout, a connection lost): the owner may have
   * applied it. Never sent again by the client library (OutcomeUnknownError): read the key first.
   * Also thrown by `distkv failover` when the target did not answer the new map (it may lead now).
   */
  OUTCOME_UNKNOWN: { status: 503 },
  /** thrown by an owner for a forwarded write that reached it after the deadline its sender set (X-Distkv-Deadline): it was not applied. */
  FORWARD_EXPIRED: { status: 503 },
  /**
   * thrown for a request on a key whose slot a peer disputes: that peer's config (sharding.toml)
   * gives the slot another leader, and it answered so at its last check (or did, and has not
   * answered since). Not executed: retry once every node has the same file (docs/operations.md).
   */
  SLOTS_DISPUTED: { status: 503 },
  /**
   * thrown for a `/_repl/snapshot` or `/_repl/pull` past what a node takes on at once: snapshot
   * streams of one store, or bytes of pull answers one worker is building (src/http/repl-admission.ts).
   * Not executed: retry after Retry-After seconds (replicas and `distkv backup` do).
   */
  REPLICATION_BUSY: { status: 503 },
  /** thrown when a read with `max_lag_ms` reaches a replica that cannot prove it is that close to its leader. */
  REPLICA_STALE: { status: 503 },
  /**
   * thrown (as a watch's `resume`) when a watch resumed at a replica names a cursor its log, in the
   * same history, had not reached and did not reach within a few seconds: resume at the leader or later.
   */
  REPLICA_BEHIND: { status: 503 },
  /** thrown when `distkv load` is pointed at a store that is not empty (bulk loads are for initial imports), or `distkv serve` at one whose load did not finish. */
  BULK_LOAD_REFUSED: { status: 409 },
  /** thrown by `distkv restore` when the target cluster already holds keys (restore into an empty cluster, or pass --force). */
  CLUSTER_NOT_EMPTY: { status: 409 },
  /** thrown when fewer than `w` replicas acknowledged a write within `timeout_ms`. */
  REPLICATION_TIMEOUT: { status: 504 },
  /** thrown when the disk is full, an fsync failed or compactions keep failing: writes are refused, reads keep working. */
  DISK_FULL: { status: 507 },
  /**
   * thrown for every write to a store whose directory was removed (or replaced by another) while the
   * node runs: what it would write there is gone at the next start. Reads keep working from the
   * files the process still holds open: copy the data out (`distkv backup`, or fail over to a
   * replica), then restart the node (docs/operations.md, "A store directory removed while it runs").
   */
  STORE_DIR_LOST: { status: 507 },
  /**
   * thrown at startup for a data or store directory the node cannot use as one: unreadable
   * (permissions), or a file where a directory belongs. The message names the path, what is wrong and
   * what to do (never sent over HTTP by itself: the store answers 503 naming it).
   */
  DATA_DIR_UNUSABLE: { status: 500 },
  /**
   * thrown for writes refused because the process ran out of file descriptors (EMFILE, ENFILE) while
   * flushing or opening a file: raise the open-file limit (`LimitNOFILE`, `ulimit -n`) and restart.
   */
  TOO_MANY_OPEN_FILES: { status: 503 },
  /**
   * thrown for writes refused while memtable flushes fail because the store's file system is
   * read-only (EROFS: mounted ro, or remounted ro by the kernel after errors): fix and remount it
   * read-write; writes resume once a flush succeeds. Not a full disk.
   */
  READ_ONLY_FS: { status: 507 },
  /**
   * thrown for writes refused while memtable flushes fail with a permission denied (EACCES, EPERM)
   * in the store's directory: the message names the directory and the uid that needs access.
   */
  STORE_DIR_DENIED: { status: 507 },
  /**
   * thrown for writes refused while memtable flushes fail with a device error (EIO): the disk or
   * its connection is failing; check the kernel log and move the data off it. Not a full disk.
   */
  DISK_IO_ERROR: { status: 507 },
  /** thrown when the configuration is invalid (never sent over HTTP: startup exits with it). */
  CONFIG_INVALID: { status: 500 },
  /**
   * thrown when stored data fails its checksum or structure checks, or a file a store had is
   * missing (a run, its LMDB level `lmdb/`): the message names the file and what to do.
   */
  CORRUPTION: { status: 500 },
  /** thrown at startup when another live process owns the data directory (never sent over HTTP). */
  DATA_DIR_LOCKED: { status: 500 },
  /**
   * thrown for every write once a commit log's fdatasync failed again after its unsynced batches
   * were written again: acknowledged writes may not be durable, and the worker refuses writes until
   * it restarts (its recovery reads what the disk really holds). Not a full disk: DISK_FULL passes.
   */
  COMMIT_LOG_BROKEN: { status: 507 },
  /**
   * thrown by the client library (never sent by a node) when a node redirects a request to an
   * address that is not a node of the cluster's map, or from https to http: the request, its token
   * and value are not sent there.
   */
  REDIRECT_REFUSED: { status: 421 },
  /** thrown by the client library (never sent by a node) for a call made after the client's `close()`: nothing was sent. */
  CLIENT_CLOSED: { status: 400 },
} as const;

/** ErrorCode is one of the stable codes of ERROR_CATALOGUE. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** WireError is an error as it travels between threads and over the network. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/** DistkvError is the base of every error distkv reports; `code` is stable, `message` is for people. */
export class DistkvError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DistkvError';
    this.code = code;
  }

  /** status is the HTTP status this error is reported with. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  /** toWire returns the `{code, message}` form used across threads and the network. */
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** ConfigError is thrown when a configuration is invalid; `problems` lists every bad field. */
export class ConfigError extends DistkvError {
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration in ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * PreconditionFailedError is thrown (by the client library) when a write's If-Match / If-None-Match
 * does not hold; `version` is the key's current version `E.S`, or null when it does not exist.
 */
export class PreconditionFailedError extends DistkvError {
  readonly version: string | null;

  constructor(message: string, version: string | null) {
    super('PRECONDITION_FAILED', message);
    this.name = 'PreconditionFailedError';
    this.version = version;
  }
}

/**
 * OutcomeUnknownError is thrown (by the client library, code OUTCOME_UNKNOWN, as a node says it on
 * the wire; it was SHARD_UNREACHABLE, which says "not applied, may be sent again": a caller
 * switching on the code resent a write that may have been applied) when a write was
 * sent and its answer lost (the connection closed or timed out after the request was written): the
 * node may or may not have applied it, or a node that relayed or forwarded it answered
 * OUTCOME_UNKNOWN (its owner did not answer). The client does not send such a write again (a repeat could
 * land after another client's later write and undo it, or apply twice around a failover): read
 * the key to find out, then write again if needed (docs/api.md, "Retries").
 */
export class OutcomeUnknownError extends DistkvError {
  constructor(message: string, options?: ErrorOptions) {
    super('OUTCOME_UNKNOWN', message, options);
    this.name = 'OutcomeUnknownError';
  }
}

/** CorruptionError is thrown when a file fails its checks; it names the file and byte offset. */
export class CorruptionError extends DistkvError {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, what: string) {
    super('CORRUPTION', `${file} at offset ${offset}: ${what}`);
    this.name = 'CorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

/** DataDirLockedError is thrown when another live process holds a data directory's lock. */
export class DataDirLockedError extends DistkvError {
  readonly dir: string;
  /** holderPid is the owner's pid (undefined when the lock could not be read or kept changing). */
  readonly holderPid: number | undefined;

  constructor(dir: string, holderPid: number | undefined) {
    super(
      'DATA_DIR_LOCKED',
      holderPid === undefined
        ? `data directory ${dir} is locked by another process (its LOCK file kept changing); try again`
        : `data directory ${dir} is in use by another distkv process (pid ${holderPid}); stop it or use another --data-dir`,
    );
    this.name = 'DataDirLockedError';
    this.dir = dir;
    this.holderPid = holderPid;
  }
}

/** isErrorCode reports whether `code` is a code of the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

/** statusOf returns the HTTP status for an error code. */
export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

/** codeForStatus returns the most general code for an HTTP status (used by the client in reverse). */
export function codeForStatus(status: number): ErrorCode {
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    if (entry.status === status && isErrorCode(code)) return code;
  }
  return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
}

/** errorFromWire rebuilds a DistkvError from its `{code, message}` form. */
export function errorFromWire(wire: WireError): DistkvError {
  return new DistkvError(wire.code, wire.message);
}

/** toDistkvError wraps any thrown value as a DistkvError (unknown failures become INTERNAL). */
export function toDistkvError(err: unknown): DistkvError {
  if (err instanceof DistkvError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return new DistkvError('DISK_FULL', `disk full: ${String(e.message)}`, { cause: err });
  }
  if (e?.code === 'EMFILE' || e?.code === 'ENFILE') {
    return new DistkvError(
      'TOO_MANY_OPEN_FILES',
      `too many open files: ${String(e.message)}; raise the open-file limit (LimitNOFILE, ulimit -n) and restart the node`,
      { cause: err },
    );
  }
  // A write or commit the file system refused (LMDB's, or a file's outside a flush: flushes say more,
  // storage/dir-errors.ts flushFailing) is the disk's state, not a bug: 507 with what it was.
  if (e?.code === 'EROFS')
    return new DistkvError('READ_ONLY_FS', `the file system is read-only: ${String(e.message)}`, {
      cause: err,
    });
  if (e?.code === 'EIO')
    return new DistkvError('DISK_IO_ERROR', `the device reported an I/O error: ${String(e.message)}`, {
      cause: err,
    });
  if (e?.code === 'EACCES' || e?.code === 'EPERM')
    return new DistkvError('STORE_DIR_DENIED', `permission denied: ${String(e.message)}`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new DistkvError('INTERNAL', message, { cause: err });
}
