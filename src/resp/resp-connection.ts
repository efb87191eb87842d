/**
 * RespConnection: one client connection of a RESP listener: bytes in → parser → commands →
 * dispatch; replies out in command order, one socket write per burst, through the RespOutput it
 * extends (resp-output.ts: the reply queue, the end-of-turn and early writes, the window's fit),
 * which extends the client's RespSession (resp-session.ts: what its commands read and set of the
 * client, such as its id, name, protocol, MULTI and WAIT's seqs).
 *
 * Flow control: parsing stops (and the socket stops reading; the rest of the input stays in the
 * parser) while the socket's write buffer is full, and while the replies outstanding reach the
 * connection's window (`frontDoorWindow`, src/server/reply-window.ts). The window starts at INITIAL_WINDOW (a first
 * burst is assumed to carry large values), at most doubles per write, follows about WINDOW_BYTES of
 * replies at the mean reply size of the last write, and never passes `maxWindow`: MAX_PIPELINE (resp-output.ts), or
 * fewer when that many values of `max_value_bytes` would pass WINDOW_CAP_BYTES (a shard worker
 * builds the replies of one batch together, so outstanding GETs cost their values even before they
 * reach the socket). A client that pipelines GETs of large values without reading therefore costs
 * about WINDOW_BYTES plus one value (the socket's own buffer stops parsing too: `writeBlocked`), and
 * at most WINDOW_CAP_BYTES when it switches from small values to large ones within one
 * window; small values keep a window of up to `maxWindow` (63 with 1 MiB values, as the default).
 * QUIT and protocol errors stop reading; the connection ends once every earlier reply is written.
 * A client that shuts down its sending side (end of input) still gets the replies of every command
 * it sent, as from Redis: the listener accepts half-open connections, and the connection ends once
 * the input held is parsed and every reply is written (`inputEnded`).
 *
 * Order on a key: a connection's ops on a key reach its store's worker in the order sent, and the
 * worker runs them in that order (an op that waits there, such as MSETNX's transaction behind a
 * write in flight, gates its keys: src/worker/key-gates.ts). Every RESP write is an op that the
 * worker runs at once (SET with options is an OP_SET_IF, PERSIST and EXPIRE are edits), so the
 * listener never holds a command back for an earlier one on its key.
 *
 * Order around a keyspace read: SCAN, KEYS, DBSIZE, INFO and WAIT read outside the op batches,
 * once every earlier reply is complete (`readAtHead`), so they see the writes sent before them. A
 * command parsed after one could reach its worker first (a DEL after KEYS, applied before KEYS
 * read, took the key out of its answer), so `readAtHead` also stops parsing until the read has
 * answered: the commands after it run after it, as in Redis.
 *
 * A command that a CLIENT PAUSE holds (client-pause.ts) fences the connection the same way until
 * the pause ends (`hold`, `resume`): nothing after it is parsed, and a client that shuts down its
 * side meanwhile is closed without running it, as Redis frees a client whose command it postponed.
 *
 * Shutdown (`drain`, when the node stops accepting): every command read so far is answered (the
 * ones on keys with `-TRYAGAIN the node is shutting down`), as after the client's end of input, and
 * the connection then ends with a FIN. What arrives after it is read and dropped unrun, so that the
 * close is not a reset: a reset made the client's kernel throw away replies it had received but
 * its application had not read yet, and the client could not tell which commands had run. A
 * client therefore knows that a command left without a reply at shutdown did not run.
 * A connection with no command outstanding when the drain begins (`lingering`) is not ended at
 * once: a command its client sent as the stop began (it had its last reply; the FIN had not reached
 * it) was dropped unanswered. It reads on: the commands of the next read are answered (refused,
 * not run) and the connection then ends as above; one still idle ends at `endIdle`, which the node
 * calls once no command has come for a while (src/server/node-drain.ts, DRAIN_QUIET_MS), as HTTP's idle
 * keep-alive connections (src/http/http1-connection.ts, serverStopping). A command half received
 * at the drain (a value still arriving) is not waited for, unlike HTTP's request body (which runs
 * once whole): completed, it would only be refused. Its connection ends at `endIdle` as an idle
 * one, the command unrun and unanswered, as redis-server closes its clients at shutdown
 * (test/e2e/resp-stop-mid-command.test.ts).
 */
import type { Socket } from 'node:net';
import { WINDOW_BYTES } from '../server/reply-window.js';
import type { UnsentAccount } from '../server/unsent-budget.js';
import { GET_NAME, type OnGetSet, RespParser, SET_NAME } from './resp-parser.js';
import type { RespContext } from './resp-context.js';
import type { Pending } from './reply-queue.js';
import { RespOutput } from './resp-output.js';

/**
 * ClientIo is a connection's socket and buffers as CLIENT LIST reports them: its local address,
 * the bytes it holds of incomplete commands and gathered values (`held`), of replies not yet
 * handed to the socket (`queued`) and in the socket unsent (`unsent`), and whether it is reading,
 * waiting for the socket to drain (`writing`) or closing once its replies are written.
 */
export interface ClientIo {
  local: string;
  held: number;
  queued: number;
  unsent: number;
  reading: boolean;
  writing: boolean;
  closing: boolean;
}

/** Dispatch runs one command on a connection. */
export type Dispatch = (c: RespConnection, args: Buffer[]) => void;

/** DispatchGetSet runs a GET or SET the parser recognised (resp-parser.ts OnGetSet); false = not run: `Dispatch` takes it. */
export type DispatchGetSet = (c: RespConnection, key: Uint8Array, value: Uint8Array | undefined) => boolean;

/** RespConnection is one client's connection: bytes in, parsing, flow control, the end (replies out: RespOutput). */
export class RespConnection extends RespOutput {
  private readonly parser: RespParser;
  private readonly dispatch: Dispatch;
  private closing = false;
  /** inputEnded is set when the client shut down its side: the connection ends after the replies. */
  private inputEnded = false;
  /** draining is set by `drain`: the connection ends as after end of input, then drops what it reads. */
  private draining = false;
  /**
   * lingering is set by `drain` on a connection with no command outstanding: it reads on, and ends
   * once it has answered a command (or at `endIdle`), not at once (see "Shutdown" above).
   */
  private lingering = false;
  /** lastDrainCommandAt is when a command last ran on this connection while it drains (performance.now(); 0: none). */
  lastDrainCommandAt = 0;
  private pipelineFull = false;
  /** paused mirrors whether the socket was last paused (so reading is resumed only when it was). */
  private paused = false;
  /** fenced is set by `readAtHead` and `hold`: parsing stays stopped until every reply so far is complete and no command is held. */
  private fenced = false;
  /** pausedArgs is the command a CLIENT PAUSE holds (`hold`), run by `resume`. */
  private pausedArgs: Buffer[] | undefined;
  /**
   * deferred is one read taken while `fenced`, parsed once the fence lifts. A fenced connection
   * keeps reading until one read arrives, so that a client that hangs up during a WAIT (or a long
   * SCAN) is noticed (`hungUp`) instead of staying unread in the kernel; it then stops reading.
   */
  private deferred: Buffer | undefined;
  private readonly onCommandBound = (args: Buffer[]): boolean => this.onCommand(args);
  /** onGetSet is the parser's GET/SET fast path, when the listener gives one (`dispatchGetSet`). */
  private readonly onGetSet: OnGetSet | undefined;
  /** transient is the read being parsed when the next read overwrites it (its arguments must be copied to be kept). */
  private transient: Buffer | undefined;
  /** readCopy is the one copy of `transient` that the arguments kept from it are views of, made on first need. */
  private readCopy: Buffer | undefined;
  /**
   * held is this connection's second share of the process's budget (src/server/unsent-budget.ts),
   * for what it holds outside the socket: an incomplete command (the parser's `holding`) and the
   * values multi-key commands gathered (`gathered`). Redis's `maxmemory-clients` counts query
   * buffers and argument vectors too.
   */
  private readonly held: UnsentAccount;
  private gathered = 0;

  /** Without `dispatchGetSet`, every command takes the general path (`dispatch`). */
  constructor(socket: Socket, ctx: RespContext, dispatch: Dispatch, dispatchGetSet?: DispatchGetSet) {
    super(socket, ctx);
    this.dispatch = dispatch;
    this.onGetSet =
      dispatchGetSet === undefined
        ? undefined
        : (key, value) => (dispatchGetSet(this, key, value) ? this.afterCommand() : undefined);
    this.parser = new RespParser(ctx.config.server.max_value_bytes + 1024 * 1024);
    this.authenticated = ctx.config.server.token === '';
    this.held = ctx.connections.unsent.open(socket);
    socket.on('error', () => {
      socket.destroy();
    });
    socket.on('close', () => {
      this.held.close();
      this.unhold();
    });
    socket.on('end', () => {
      this.inputEnded = true;
      // Redis frees a client that hangs up while its command is postponed: the command never runs.
      if (this.unhold()) this.closing = true;
      this.writeOut();
    });
  }

  /** authenticated is false until AUTH while a token is set; the parser then applies Redis's limits before AUTH. */
  get authenticated(): boolean {
    return !this.parser.authRequired;
  }

  set authenticated(yes: boolean) {
    this.parser.authRequired = !yes;
  }

  /** gone reports whether the connection is closed (its replies are discarded). */
  get gone(): boolean {
    return this.socket.destroyed;
  }

  /**
   * hungUp reports whether the client closed the connection or shut down its side: a WAIT then
   * stops waiting (its answer still goes out to a half-open client), as Redis frees a client at
   * the end of its input; a client that closed entirely cannot be told apart from a half-open one
   * until a write fails.
   */
  get hungUp(): boolean {
    return this.inputEnded || this.socket.destroyed;
  }

  /** remote describes the peer as "ip:port". */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  /** io describes the connection's socket and what it holds, for CLIENT LIST (client-list.ts). */
  get io(): ClientIo {
    return {
      local: `${this.socket.localAddress ?? '?'}:${this.socket.localPort ?? 0}`,
      held: this.holding(),
      queued: this.queue.out.length,
      unsent: this.socket.writableLength,
      reading: !this.paused,
      writing: this.writeBlocked,
      closing: this.closing,
    };
  }

  /** quit ends the connection once the replies so far are written (QUIT). */
  quit(): void {
    this.closing = true;
  }

  /** noteGathered adds `bytes` (negative: releases them) to the values this connection's multi-key commands hold. */
  noteGathered(bytes: number): void {
    this.gathered += bytes;
    this.held.update(this.holding());
  }

  /**
   * drain ends the connection because the node is stopping: once every command read so far has its
   * reply written, with a FIN; a WAIT answers at once with the replicas counted so far.
   */
  drain(): void {
    if (this.draining || this.socket.destroyed) return;
    this.draining = true;
    this.unblock?.(false);
    // Nothing outstanding: the client may be sending its next command now; it is read and answered.
    this.lingering = this.queue.depth === 0 && !this.pipelineFull && !this.closing && !this.inputEnded;
    this.writeOut();
  }

  /**
   * endIdle ends a draining connection that has not run a command since the drain began: with a
   * FIN, once every reply is written (an incomplete command it holds is dropped unrun).
   */
  endIdle(): void {
    if (!this.lingering) return;
    this.lingering = false;
    this.writeOut();
  }

  /** end closes the connection at once (the listener is closing, CLIENT KILL): replies not yet written are lost. */
  end(): void {
    this.socket.destroy();
  }

  /**
   * hold keeps `args` unrun while a CLIENT PAUSE holds them; nothing after them is parsed until
   * `resume`. They are copied: a GET's or SET's may be views of the listener's shared read buffer
   * (`onCommand` does not `keep` them, as they are done with their arguments once dispatched),
   * which the next read on any connection overwrites; held as views, the GET answered another
   * key's value and the SET wrote other bytes under another key when the pause ended.
   */
  hold(args: Buffer[]): void {
    this.pausedArgs = args.map((a) => Buffer.from(a));
    this.fenced = true;
    this.blocked = true;
    this.ctx.stats.blocked++;
    this.ctx.pause.hold(this);
  }

  /** resume runs the held command (a pause set since holds it again) and parses on. */
  resume(): void {
    const args = this.pausedArgs;
    if (!this.unhold() || args === undefined || this.closing || this.socket.destroyed) return;
    this.dispatch(this, args);
    this.writeOut();
  }

  /** unhold forgets the held command, if any (reporting whether there was one). */
  private unhold(): boolean {
    if (this.pausedArgs === undefined) return false;
    this.pausedArgs = undefined;
    this.blocked = false;
    this.ctx.stats.blocked--;
    this.ctx.pause.forget(this);
    return true;
  }

  /**
   * read takes the bytes of one socket read. A `transient` chunk is overwritten by the listener's
   * next read (src/server/shared-read.ts), so it is parsed where it lies and copied only where
   * something is kept: the parser copies an incomplete command's bytes, and `onCommand` copies
   * the arguments of a command that may use them after it returns (KEYS and SCAN use theirs after
   * earlier replies; a held command waits for its key). GET and SET, which copy their key and
   * value into the worker's batch at once, take no copy: a copy of each read was a third of the
   * parser's instructions per GET at -P 1 (docs/performance.md).
   */
  read(chunk: Buffer, transient: boolean): void {
    this.lastReadAt = Date.now();
    // Sent after the drain's FIN was written: dropped unrun (`drain`).
    if (this.draining && this.socket.writableEnded) return;
    if (this.fenced && !this.closing) {
      // Read only to notice a hang-up during a keyspace read or WAIT (see `deferred`); reading
      // pauses after this read, and a read that still arrives is kept behind it, never parsed early.
      const copy = transient ? Buffer.from(chunk) : chunk;
      this.deferred = this.deferred === undefined ? copy : Buffer.concat([this.deferred, copy]);
      this.held.update(this.holding());
      this.updateFlow();
      return;
    }
    this.feed(chunk, transient);
  }

  /** holding is what the connection holds outside its socket (counted in the unsent budget). */
  private holding(): number {
    return this.parser.holding + this.gathered + (this.deferred?.length ?? 0);
  }

  private feed(chunk: Buffer | undefined, transient = false): void {
    if (this.closing) return;
    const outer = this.transient;
    this.transient = transient ? chunk : undefined;
    this.readCopy = undefined;
    const error = this.parser.feed(chunk, this.onCommandBound, transient, this.onGetSet);
    this.transient = outer;
    this.readCopy = undefined;
    this.held.update(this.holding());
    if (error !== undefined) {
      this.queue.now(this.proto).error(`ERR ${error}`);
      this.closing = true;
    }
    this.writeOut();
  }

  /**
   * readAtHead runs `read` (a keyspace read answering at `p`) once every reply before `p` is
   * complete, and keeps the commands after it unparsed until it has answered (see "Order around a
   * keyspace read" above).
   */
  readAtHead(p: Pending, read: () => void): void {
    this.fenced = true;
    this.queue.atHead(p, read);
  }

  private onCommand(parsed: Buffer[]): boolean {
    // Only GET and SET are known to be done with their arguments when dispatch returns.
    const name = parsed[0];
    const args = name !== GET_NAME && name !== SET_NAME ? this.keep(parsed) : parsed;
    this.dispatch(this, args);
    return this.afterCommand();
  }

  /** afterCommand counts a command run and tells whether parsing goes on (flow control, QUIT, a fence). */
  private afterCommand(): boolean {
    this.ctx.stats.commands++;
    if (this.draining) {
      // The command of a connection idle at the stop is answered; the connection ends after it.
      this.lingering = false;
      this.lastDrainCommandAt = performance.now();
    }
    if (this.closing) return false;
    if (this.fenced) return this.stopParsing();
    if (this.queue.depth >= this.window.size || this.writeBlocked || this.queue.out.length > WINDOW_BYTES)
      return this.stopParsing();
    return true;
  }

  /** keep moves the arguments that lie in the transient read being parsed into one copy of that read. */
  private keep(args: Buffer[]): Buffer[] {
    const chunk = this.transient;
    if (chunk === undefined) return args;
    const memory = chunk.buffer;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.buffer !== memory) continue;
      const at = a.byteOffset - chunk.byteOffset;
      if (at < 0 || at + a.length > chunk.length) args[i] = Buffer.from(a);
      else {
        this.readCopy ??= Buffer.from(chunk);
        args[i] = this.readCopy.subarray(at, at + a.length);
      }
    }
    return args;
  }

  private stopParsing(): false {
    this.pipelineFull = true;
    this.updateFlow();
    return false;
  }

  /** writeOut writes the replies ready so far (one socket write) and updates flow control. */
  protected writeOut(): void {
    const socket = this.socket;
    this.writeReplies();
    if (socket.destroyed) return;
    // After end of input, `pipelineFull` unset means every command held has been parsed.
    if (
      (this.closing || ((this.inputEnded || (this.draining && !this.lingering)) && !this.pipelineFull)) &&
      this.queue.depth === 0
    ) {
      socket.end();
      if (this.draining && this.paused) {
        // Read on, dropping what comes (`read`), so that unread bytes do not turn the close into a reset.
        this.paused = false;
        socket.resume();
      }
      return;
    }
    // A keyspace read's fence lifts once it and every reply before it are complete (and no command is held).
    if (this.fenced && this.queue.depth === 0 && this.pausedArgs === undefined) this.fenced = false;
    if (this.pipelineFull && !this.fenced && !this.writeBlocked && this.queue.depth < this.window.size / 2) {
      this.pipelineFull = false;
      const deferred = this.deferred;
      this.deferred = undefined;
      this.feed(deferred);
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    // A fenced connection reads until it has one read deferred (see `deferred`).
    const pause = this.writeBlocked || (this.pipelineFull && !(this.fenced && this.deferred === undefined));
    if (pause === this.paused || this.socket.destroyed) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }
}
