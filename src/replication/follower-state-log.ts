/**
 * How a follower (follower.ts) logs a change of its state: once per change, never per pull, at the
 * level the change deserves. A replica whose leader does not answer yet (connection refused, no
 * answer in time) while it starts is waiting for it (info); a leader lost later is unreachable
 * (warn, with the error); a move between streaming and catching-up, frequent under a steady write
 * load, is debug; any other change (resyncing, stopped, streaming again after a disconnection) is
 * info.
 *
 * A leader that answers a pull with a refusal (a 4xx: 401 for another token, 403 UNKNOWN_REPLICA,
 * 409 CONFIG_MISMATCH during a config change) is up: that is a warn naming what it answered and
 * what to do, from the start as later. It was logged at info as "waiting for the leader to come
 * up", and an operator waited for a leader that had been answering all along
 * (test/e2e/replica-refused-log.test.ts). A refusal that comes while the follower is already
 * disconnected (a replica started before its leader, which then came up and refused) is logged
 * too, once per kind of refusal until the follower gets out of `disconnected`: a follower's state
 * does not change with it, and the operator was left with "waiting for the leader to come up".
 *
 * So is a leader whose TLS handshake fails (src/util/tls-failure.ts: its certificate not signed by
 * a CA of this node's `server.tls_ca`, expired, naming another address; or one end not speaking
 * TLS): it answers, and nothing changes until an operator acts. It was "waiting for the leader to
 * come up" at info, the certificate's problem only in the `error` field
 * (test/e2e/replica-tls-refused-log.test.ts); it is a warn naming the leader, the failure and what
 * to check, logged as an answer's refusal is (once per kind, its kind being Node's error code).
 *
 * A failure of this replica's own disk (local-failure.ts: applying records, loading a snapshot,
 * saving a fork on a full, failing or read-only disk) is not the leader's either: it was "the
 * leader is unreachable" and the operator went to the wrong machine
 * (test/robustness/replica-disk-full.test.ts). It is a warn saying the disk is this replica's,
 * with the error's errno, directory and what to do, logged once per kind until the follower
 * streams or catches up again: a resync that fails on a full disk tries again with backoff, each
 * try going `resyncing` then `disconnected`, and the next tries are debug.
 */
import type { Logger } from 'pino';
import { type TlsFailure, tlsFailureOf, tlsFailureText, tlsRemedy } from '../util/tls-failure.js';
import { LeaderAnswerError } from './http-answer.js';
import { LocalDiskError } from './local-failure.js';
import type { FollowerState } from './positions.js';

/** AnswerRefusal is what a leader answered a refused pull or snapshot with. */
export interface AnswerRefusal {
  status: number;
  /** code is the error code of its JSON body (undefined when the body had none). */
  code: string | undefined;
}

/** Refusal is a leader's answer that refused a pull or snapshot, or a TLS handshake with it that failed. */
export type Refusal = AnswerRefusal | { tls: TlsFailure };

/**
 * refusalOf is the refusal a failed pull or snapshot got (http-source.ts throws a LeaderAnswerError
 * with the answer's status and error code; a TLS failure is the connection's error, or its cause):
 * undefined for a failure that got no answer (connection refused, timed out), any other error, or
 * an answer that is not a 4xx (a 503 from a leader still opening its stores is a leader not up yet).
 */
export function refusalOf(err: unknown): Refusal | undefined {
  if (!(err instanceof LeaderAnswerError)) {
    const tls = tlsFailureOf(err);
    return tls === undefined ? undefined : { tls };
  }
  if (err.status < 400 || err.status > 499) return undefined;
  return { status: err.status, code: err.code };
}

/** messageOf is what the log line's `error` field says of a failure: its message. */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** remedyFor is what an operator does about a refusal (the follower retries meanwhile). */
function remedyFor(r: AnswerRefusal): string {
  switch (r.code ?? (r.status === 401 ? 'UNAUTHORIZED' : '')) {
    case 'UNAUTHORIZED':
      return "this node's token (server.token or DISTKV_TOKEN) is not the leader's: give every node the same token";
    case 'CONFIG_MISMATCH':
      return "this node's config gives the shard other members than the leader's: give every node the same config (during a rolling config change this ends once both run it)";
    case 'UNKNOWN_REPLICA':
      return "the leader's config does not list this node as a replica of the shard: give every node the same config";
    case 'STALE_LEADER':
      return 'this node knows a newer live map than the leader, which was deposed: it follows the new leader once its map arrives (distkv map)';
    default:
      return 'see error';
  }
}

/** refusedMessage is the line for a refused pull: what the leader (`source`) answered and what to do. */
function refusedMessage(r: Refusal, source: string): string {
  if ('tls' in r)
    return `replication: the leader (${source}) answers, but the TLS handshake with it fails: ${tlsFailureText(r.tls)}: ${tlsRemedy(r.tls, 'the leader')}; retrying with backoff`;
  const answered = `HTTP ${String(r.status)}${r.code === undefined ? '' : ` ${r.code}`}`;
  return `replication: the leader is up and refuses the pulls (${answered}): ${remedyFor(r)}; retrying with backoff`;
}

/** localSummary is the start of the line for a local failure: whose disk, what is wrong with it, what to do. */
function localSummary(err: LocalDiskError): string {
  switch (err.code) {
    case 'DISK_FULL':
      return "this replica's disk is full: free space on it (it resumes by itself)";
    case 'DISK_IO_ERROR':
      return "this replica's disk reports I/O errors: check the kernel log (dmesg) and the disk";
    case 'READ_ONLY_FS':
      return "this replica's file system is read-only: remount it read-write (it resumes by itself)";
    default:
      return 'this replica cannot write to its own disk';
  }
}

/** FollowerStateLog logs one follower's changes of state (see the design block). */
export class FollowerStateLog {
  private readonly log: Logger | undefined;
  private readonly source: string;
  /** loggedRefusal is the last refusal logged since the follower went `disconnected` ('status code'). */
  private loggedRefusal: string | undefined;
  /** loggedLocal is the kind of the last local failure logged since the follower last streamed or caught up ('local CODE'). */
  private loggedLocal: string | undefined;

  constructor(log: Logger | undefined, source: string) {
    this.log = log;
    this.source = source;
  }

  /** changed logs a move from `from` to `to`; `cause` is the error that caused it, if any (its message goes in `error`). */
  changed(from: FollowerState, to: FollowerState, cause?: unknown): void {
    const fields = {
      source: this.source,
      from,
      to,
      ...(cause === undefined ? {} : { error: messageOf(cause) }),
    };
    this.loggedRefusal = undefined;
    if (to === 'streaming' || to === 'catching-up') this.loggedLocal = undefined;
    const refusal = to === 'disconnected' ? refusalOf(cause) : undefined;
    if (to === 'disconnected' && cause instanceof LocalDiskError) this.localFailure(fields, cause);
    else if (refusal !== undefined) this.refused(fields, refusal);
    else if (to === 'disconnected' && from === 'starting')
      this.log?.info(fields, 'replication: waiting for the leader to come up (it does not answer yet)');
    else if (to === 'disconnected')
      this.log?.warn(fields, 'replication: the leader is unreachable (see error); retrying with backoff');
    else if ((from === 'streaming' || from === 'catching-up') && (to === 'streaming' || to === 'catching-up'))
      this.log?.debug(fields, `replication: ${to}`);
    else this.log?.info(fields, `replication: ${to}`);
  }

  /** failedAgain logs a failure while the follower is already `disconnected`: only a refusal not logged since it went so. */
  failedAgain(cause: unknown): void {
    const from: FollowerState = 'disconnected';
    if (cause instanceof LocalDiskError) {
      this.localFailure({ source: this.source, from, to: from, error: messageOf(cause) }, cause);
      return;
    }
    const refusal = refusalOf(cause);
    if (refusal === undefined) return;
    this.refused({ source: this.source, from, to: from, error: messageOf(cause) }, refusal);
  }

  /** localFailure logs a failure of this replica's own disk: a warn once per kind (see the design block), debug after. */
  private localFailure(fields: object, err: LocalDiskError): void {
    const key = `local ${err.code}`;
    const again = key === this.loggedLocal;
    this.loggedLocal = key;
    const line = `replication: ${localSummary(err)}, not the leader; retrying with backoff (see error)`;
    if (again) this.log?.debug(fields, line);
    else
      this.log?.warn(
        { ...fields, code: err.code, ...(err.errno === undefined ? {} : { errno: err.errno }) },
        line,
      );
  }

  private refused(fields: object, r: Refusal): void {
    const key = 'tls' in r ? `tls ${r.tls.code}` : `${String(r.status)} ${r.code ?? ''}`;
    if (key === this.loggedRefusal) return;
    this.loggedRefusal = key;
    this.log?.warn(fields, refusedMessage(r, this.source));
  }
}
