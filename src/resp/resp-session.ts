/**
 * RespSession: the state of one RESP client that its commands read and set, apart from the
 * connection that carries it (resp-connection.ts: bytes in, parsing, flow control, the end;
 * resp-output.ts: replies out): its id and name, its protocol version (HELLO), READONLY, a MULTI
 * in progress, what CLIENT LIST reports of it (age, idle, last command, blocked), a WAIT's handle
 * (`unblock`) and the seqs WAIT waits for (`lastWrites`), and how many keys a multi-key read
 * submits at once (`roundKeys`). Redis keeps these in its `client` struct beside the query buffer; here
 * RespConnection extends RespSession (through RespOutput), so a command finds them on the
 * connection itself, with no other object per client between them.
 */
import { maxWindowFor, WINDOW_CAP_BYTES } from '../server/reply-window.js';
import { MAX_ARRAY_COUNT, type ProtocolVersion } from './resp-format.js';
import type { RespContext } from './resp-context.js';

/** RespSession is one client's state as its commands see it (RespConnection adds the connection). */
export class RespSession {
  readonly id: number;
  readonly ctx: RespContext;
  proto: ProtocolVersion = 2;
  /** readonly is set by READONLY: reads may be served by this node's replicas. */
  readonly = false;
  /**
   * inMulti is set by MULTI until EXEC or DISCARD: 'empty' while no command was sent inside it,
   * 'refused' after one was (commands-transaction.ts: distkv refuses every command of a transaction).
   */
  inMulti: 'empty' | 'refused' | undefined = undefined;
  name = '';
  /** createdAt is when the connection was accepted (CLIENT LIST `age`). */
  readonly createdAt = Date.now();
  /** lastCommand is the full name of the last command dispatched (`get`, `client|list`; "NULL" before any): CLIENT LIST's `cmd`. */
  lastCommand = 'NULL';
  /**
   * lastReadAt is when the client last sent bytes: CLIENT LIST's `idle`, as Redis's
   * `lastinteraction` (taken once per read, not per command: a pipeline pays one clock read).
   */
  lastReadAt = this.createdAt;
  /** blocked is set while the connection waits in WAIT or a pause holds its command (CLIENT LIST flag `b`). */
  blocked = false;
  /**
   * unblock is set while the connection waits in WAIT (not while a pause holds it): it ends the
   * wait at once, answering the replicas counted so far, or with `error` the UNBLOCKED error
   * (CLIENT UNBLOCK).
   */
  unblock: ((error: boolean) => void) | undefined = undefined;
  /** lastWrites holds, per store, the seq of this connection's newest acknowledged write (for WAIT). */
  readonly lastWrites = new Map<number, number>();
  /** roundKeys is how many keys a multi-key read submits at once (gather.ts): a window's cap of max-size values. */
  readonly roundKeys: number;

  constructor(ctx: RespContext) {
    this.ctx = ctx;
    this.id = ctx.nextClientId();
    this.roundKeys = maxWindowFor(
      WINDOW_CAP_BYTES,
      ctx.config.server.max_value_bytes + 64,
      1,
      MAX_ARRAY_COUNT,
    );
  }

  /** noteWrite records an acknowledged write for WAIT. */
  noteWrite(store: number, seq: number): void {
    if (seq > (this.lastWrites.get(store) ?? 0)) this.lastWrites.set(store, seq);
  }
}
