/**
 * ClientPause: CLIENT PAUSE and CLIENT UNPAUSE of one RESP listener, the node's RESP connections
 * (docs/resp.md, "CLIENT PAUSE"). As redis-server 7.0: `CLIENT PAUSE timeout [WRITE|ALL]` holds,
 * from its reply until `timeout` ms have passed or a CLIENT UNPAUSE, the commands of every
 * connection of the listener: with ALL (the default) every command but QUIT, CLIENT UNPAUSE
 * included; with WRITE the commands flagged `write`. A command refused before it would run (an
 * unknown name, a wrong argument count, NOAUTH) is answered at once, as Redis answers it before
 * its pause check. A connection whose command is held parses nothing after it until it is
 * released (RespConnection.hold), so its replies stay in order; the held connections are released
 * in the order they were held, each running its command again through `dispatch` (a pause set
 * since holds it again). A second PAUSE only widens the pause: the later end and the stricter mode
 * win, as Redis's pauseClients does.
 *
 * What it does not hold: HTTP requests, replication (a replica still pulls and applies its
 * leader's writes), other nodes (each has its own listener), the expiry of keys, and the commands
 * of another node's listener in the same process.
 *
 * Cost without a pause: `mode` is read once per command (`dispatch`, and the GET/SET fast path,
 * which leaves a command to `dispatch` while a pause is set). Written and read on the main thread.
 */
import { arityFits, type CommandSpec } from './command-spec.js';
import type { RespConnection } from './resp-connection.js';

/** PAUSE_MODE names the pause modes, ordered by what they hold (a stricter one wins). */
export const PAUSE_MODE = { off: 0, write: 1, all: 2 } as const;
export type PauseMode = (typeof PAUSE_MODE)[keyof typeof PAUSE_MODE];

/** MAX_TIMER_MS is the longest delay setTimeout takes (a longer one fires at once): longer pauses re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** TRANSACTION_COMMANDS are handled outside the command table (commands-transaction.ts). */
const TRANSACTION_COMMANDS = new Set(['multi', 'exec', 'discard']);

/** ClientPause is one listener's pause and the connections it holds. */
export class ClientPause {
  /** mode is the pause in force; read on every command, PAUSE_MODE.off without a pause. */
  mode: PauseMode = PAUSE_MODE.off;
  /** end is when the pause ends, in ms since the epoch. */
  private end = 0;
  private timer: NodeJS.Timeout | undefined;
  /** held are the connections whose command waits, in the order they were held. */
  private readonly held = new Set<RespConnection>();

  /** holding is how many connections the pause holds now. */
  get holding(): number {
    return this.held.size;
  }

  /**
   * pause holds commands until `end` (ms since the epoch) in `mode`, or widens the pause in force.
   * An end already past sets nothing when no pause is in force (Redis's `CLIENT PAUSE 0`).
   */
  pause(end: number, mode: PauseMode): void {
    const now = Date.now();
    if (this.mode === PAUSE_MODE.off && end <= now) return;
    if (mode > this.mode) this.mode = mode;
    if (end > this.end) {
      this.end = end;
      this.arm(now);
    }
  }

  /** unpause ends the pause and releases the connections it held, in order. */
  unpause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.mode = PAUSE_MODE.off;
    this.end = 0;
    if (this.held.size === 0) return;
    const held = [...this.held];
    this.held.clear();
    // Released after the current command (UNPAUSE's own reply first), as Redis runs them before it sleeps.
    setImmediate(() => {
      for (const c of held) c.resume();
    });
  }

  /**
   * holds reports whether the pause in force holds a command: `cmd` is its entry in the table
   * (undefined for a name the table does not have), `args` the command.
   */
  holds(c: RespConnection, cmd: CommandSpec | undefined, args: readonly Buffer[]): boolean {
    if (this.mode === PAUSE_MODE.off) return false;
    if (cmd === undefined)
      return (
        this.mode === PAUSE_MODE.all && TRANSACTION_COMMANDS.has(args[0]!.toString('latin1').toLowerCase())
      );
    if (cmd.name === 'quit' || !arityFits(cmd, args.length)) return false;
    if (!c.authenticated && cmd.noAuth !== true) return false;
    return this.mode === PAUSE_MODE.all || cmd.flags.includes('write');
  }

  /** hold records `c` as held (RespConnection.hold), to be resumed when the pause ends. */
  hold(c: RespConnection): void {
    this.held.add(c);
  }

  /** forget drops `c` (closed, or hung up while held). */
  forget(c: RespConnection): void {
    this.held.delete(c);
  }

  /** close ends the pause without releasing anyone (the listener is closing its connections). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
    this.mode = PAUSE_MODE.off;
  }

  /** arm sets the timer for `end`, in steps of at most MAX_TIMER_MS. */
  private arm(now: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (Date.now() >= this.end) this.unpause();
        else this.arm(Date.now());
      },
      Math.min(Math.max(0, this.end - now), MAX_TIMER_MS),
    );
    this.timer.unref();
  }
}
