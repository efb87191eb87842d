/**
 * MEMORY USAGE and MEMORY HELP (docs/resp.md), what `redis-cli --memkeys` and memory dashboards
 * send. MEMORY USAGE key answers what the key costs its store: the key's bytes, its value's and
 * the STORED_HEADER_BYTES each key's record carries (docs/sstable-format.md, "stored-value": crc,
 * seq, expiry), or nil for a missing key, read as GET reads it. Redis answers its allocator's
 * sizes, so the numbers differ; the arguments are read as Redis 7 reads them (`SAMPLES n`, which
 * a string ignores; a negative count or another option is a syntax error). The other
 * subcommands (STATS, DOCTOR, MALLOC-STATS, PURGE) describe Redis's allocator and are refused as
 * unknown subcommands.
 */
import { OP_GET, ST_MISSING, ST_VALUE } from '../worker/op-format.js';
import { parseInt64 } from '../worker/read-modify-write.js';
import { routeKey } from './key-route.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { unknownSubcommand } from './unknown-command.js';
import { errorText } from './worker-reply.js';

/** STORED_HEADER_BYTES is the header a store keeps with each key's value (crc:u32 seq:u64 expiresAtMs:u64). */
export const STORED_HEADER_BYTES = 20;

const MEMORY_HELP = [
  'MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'USAGE <key> [SAMPLES <count>]',
  '    Return the bytes <key> and its value take in the store (key, value and a',
  `    ${STORED_HEADER_BYTES}-byte record header). SAMPLES is accepted and ignored.`,
  'HELP',
  '    Prints this help.',
];

/** memory: MEMORY USAGE key [SAMPLES count], MEMORY HELP. */
export function memory(c: RespConnection, args: Buffer[]): void {
  const sub = args[1]!.toString('latin1').toLowerCase();
  if (sub === 'help') {
    if (args.length !== 2)
      c.queue.now(c.proto).error("ERR wrong number of arguments for 'memory|help' command");
    else c.queue.now(c.proto).help(MEMORY_HELP);
    return;
  }
  if (sub !== 'usage') {
    c.queue.now(c.proto).errorBytes(unknownSubcommand(args[1]!, 'MEMORY'));
    return;
  }
  if (args.length < 3) {
    c.queue.now(c.proto).error("ERR wrong number of arguments for 'memory|usage' command");
    return;
  }
  // As Redis Cluster: the key is routed before the options are read.
  const t = routeKey(c, args[2]!, false);
  if (t === undefined) return;
  const bad = optionError(args);
  if (bad !== undefined) {
    c.queue.now(c.proto).error(bad);
    return;
  }
  const key = args[2]!;
  const format = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
    if (status === ST_VALUE) w.integer(key.length + value.length + STORED_HEADER_BYTES);
    else if (status === ST_MISSING) w.nil();
    else w.error(errorText(value));
  };
  c.ctx.pool.submit(t.worker, OP_GET, t.store, key, undefined, c.queue.later(c.proto, format));
}

/** optionError reads MEMORY USAGE's options as Redis 7 does: `SAMPLES <count>` (count an integer, not negative), repeated at will. */
function optionError(args: Buffer[]): string | undefined {
  for (let i = 3; i < args.length; i += 2) {
    if (args[i]!.toString('latin1').toLowerCase() !== 'samples' || i + 1 >= args.length)
      return 'ERR syntax error';
    const n = parseInt64(args[i + 1]!.toString('latin1'));
    if (n === undefined) return 'ERR value is not an integer or out of range';
    if (n < 0n) return 'ERR syntax error';
  }
  return undefined;
}
