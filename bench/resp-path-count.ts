/**
 * The RESP listener's whole per-command path on the main thread at `-P 1`, counted in instructions:
 * a build's RespConnection (src/resp/resp-connection.ts) with its real dispatch, routing, reply
 * queue, reply format and writer, given N reads of one GET or SET each, as the listener gives
 * them (each read written into one shared buffer, `transient`). What it does not run: the socket
 * (a Writable that drops the bytes stands in for it) and the worker (a pool that answers each op
 * at once, after the read, as a reply batch does). Each command then waits for the end of its
 * event-loop turn, where the connection writes its reply (turn-flush.ts). Run it under callgrind
 * with V8 in its deterministic mode, twice with different N; the difference divided by the
 * difference of N is the instructions per command, repeatable on a loaded machine:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --predictable dist/bench/resp-path-count.js --build DIR --command get --commands 20000
 *
 * (and again with --commands 60000). `--build` is a checkout with its dist/ built (default: this
 * one); a build that exports `dispatchGetSet` (command-dispatch.ts) runs with its GET/SET fast path,
 * unless `--fast 0`.
 *
 * Usage: node --predictable dist/bench/resp-path-count.js [--build DIR] [--command get|set] [--commands N] [--fast 1|0]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { arg, choice, count } from './lib/args.js';
import { ROOT } from './lib/processes.js';

const BUILD = resolve(arg('build', ROOT));
const COMMAND = choice('command', 'get', ['get', 'set']);
const COMMANDS = count('commands', 20000);
const FAST = arg('fast', '1') !== '0';

type Handler = { onReply(status: number, seq: number, value: Buffer): void };
type Dispatch = (...args: never[]) => boolean;

const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(join(BUILD, 'dist', path)).href)) as T;
const { RespConnection } = await load<{
  RespConnection: new (
    socket: Writable,
    ctx: unknown,
    dispatch: Dispatch,
    fast?: Dispatch,
  ) => {
    read(chunk: Buffer, transient: boolean): void;
  };
}>('src/resp/resp-connection.js');
// The dispatcher's module: command-dispatch.ts, or command-table.ts in a build from before it had its own.
const dispatcher = existsSync(join(BUILD, 'dist/src/resp/command-dispatch.js'))
  ? 'src/resp/command-dispatch.js'
  : 'src/resp/command-table.js';
const table = await load<{ dispatch: Dispatch; dispatchGetSet?: Dispatch }>(dispatcher);
const { validateConfig } = await load<{ validateConfig: (raw: unknown, where: string) => unknown }>(
  'src/config/validate-config.js',
);
const { ShardMap } = await load<{ ShardMap: new (shards: unknown) => unknown }>('src/routing/shard-map.js');
const { ConnectionLimit } = await load<{ ConnectionLimit: new (max: number) => unknown }>(
  'src/server/connection-limit.js',
);
const { TurnFlush } = await load<{ TurnFlush: new () => unknown }>('src/resp/turn-flush.js');
const { ScanCursors } = await load<{ ScanCursors: new () => unknown }>('src/resp/scan-cursors.js');
const ops = await load<{ OP_GET: number; ST_VALUE: number; ST_DONE: number }>('src/worker/op-format.js');

const A = '127.0.0.1:7001';
const config = validateConfig({ shards: [{ name: 'shard-0', idx: 0, address: A }] }, '<bench>');
const target = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: undefined };
const value = Buffer.alloc(100, 0x76);
const empty = Buffer.alloc(0);
let due: Handler | undefined;
let seq = 0;
const pool = {
  submit(_w: number, op: number, _s: number, key: Uint8Array, v: unknown, handler: Handler): void {
    // The worker's batch copies the key (and value) at once.
    sum += key[key.length - 1]! + (v === undefined ? 0 : 1);
    due = handler;
    seq += op === ops.OP_GET ? 0 : 1;
  },
};
let sum = 0;
const ctx = {
  config,
  shardMap: new ShardMap((config as { shards: unknown }).shards),
  listener: { address: A, host: '127.0.0.1', port: 7001, reads: [target], writes: [target] },
  pool,
  connections: new ConnectionLimit(100),
  turnFlush: new TurnFlush(),
  // calls: what builds since session 38 count commands in (COMMAND_NAMES is far shorter); no error counts.
  stats: { commands: 0, connections: 0, blocked: 0, calls: new Float64Array(1024) },
  cursors: new ScanCursors(),
  nextClientId: () => 1,
  draining: () => false,
  leaderWithoutLease: () => false,
};
const socket = new Writable({
  write(chunk: Buffer, _encoding, done) {
    sum += chunk.length;
    done();
  },
});
Object.assign(socket, { setNoDelay: () => socket, pause: () => socket, resume: () => socket });
const fast = FAST ? table.dispatchGetSet : undefined;
const conn = new RespConnection(socket, ctx, table.dispatch, fast);

const encode = (args: string[]): Buffer =>
  Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`);
const commands = Array.from({ length: 64 }, (_, i) => {
  const key = `key:${String(i * 7919).padStart(12, '0')}`;
  return encode(COMMAND === 'set' ? ['SET', key, value.toString()] : ['GET', key]);
});
const shared = Buffer.allocUnsafeSlow(64 * 1024);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
for (let i = 0; i < COMMANDS; i++) {
  const c = commands[i & 63]!;
  c.copy(shared, 0);
  conn.read(shared.subarray(0, c.length), true);
  const h = due;
  due = undefined;
  if (COMMAND === 'set') h?.onReply(ops.ST_DONE, seq, empty);
  else h?.onReply(ops.ST_VALUE, 0, value);
  await turn();
}
process.stdout.write(`${sum}\n`);
