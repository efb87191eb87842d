/**
 * The generator and the judge of resp-redis-diff.test.ts: seeded random commands, valid and not
 * (wrong arity, bad numbers, empty and binary keys, conflicting options, times at and past their
 * bounds), and the comparison of distkv's reply with redis-server's. Every argument is a latin1
 * string, so binary bytes go over the wire as they are and replies compare byte for byte.
 *
 * A reply must equal Redis's, except:
 * - times read at slightly different instants (TTL, PTTL, EXPIRETIME, PEXPIRETIME) within `TOLERANCE`;
 * - KEYS, whose order is no contract: compared as sets;
 * - a SCAN page, whose cursor and keys depend on the server's layout: its shape only (the test
 *   compares the keys of whole iterations instead); its errors exactly;
 * - the differences docs/resp.md states as chosen (`documented`), after which the command's keys
 *   are deleted on both sides so their states stay equal.
 */
import { lookup } from '../../src/resp/command-table.js';
import { TOO_LONG } from '../../src/resp/commands-edits.js';

/** Step is one generated command and the keys it names. */
export interface Step {
  args: string[];
  keys: string[];
}

type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

// Keys of one slot (hash tag {t}), binary ones among them, and two of other slots (CROSSSLOT).
const SAME_SLOT = ['{t}a', '{t}b', '{t}c', '{t}n', '{t}\xff\x00k', '{t}\r\n '];
const OTHER_SLOT = ['x', 'y'];

/** LONG_KEY is over max_key_bytes (1024): distkv refuses it, Redis takes it. */
const LONG_KEY = `{t}${'k'.repeat(1100)}`;

function key(r: Rand): string {
  const u = r();
  if (u < 0.03) return '';
  if (u < 0.04) return LONG_KEY;
  if (u < 0.1) return pick(r, OTHER_SLOT);
  return pick(r, SAME_SLOT);
}

const NUMBERS = [
  '0',
  '1',
  '-1',
  '10',
  '9223372036854775807',
  '9223372036854775806',
  '-9223372036854775808',
  '-9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '1e3',
  ' 1',
  '1 ',
  '+1',
  '01',
  '-0',
  '3.5',
  '0x10',
  '',
  'abc',
];

function value(r: Rand): string {
  const u = r();
  if (u < 0.5) return pick(r, NUMBERS);
  if (u < 0.6) return '\x00\xff\r\n$*';
  if (u < 0.61) return 'w'.repeat(20000);
  const n = Math.floor(r() * 40);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(r() * 95));
  return s;
}

const FLOATS = ['1', '0.1', '-1.5', '1e3', '5e-1', 'abc', 'inf', '-inf', 'nan', '', ' 1', '1e400', '0x10'];

/** seconds is an expiry in seconds: mostly fine and far off, else at or past a bound. */
function seconds(r: Rand): string {
  return pick(r, ['100', '1000', '86400', '100', '0', '-1', '1e3', 'abc', '9223372036854775807', '+5']);
}

function millis(r: Rand): string {
  return pick(r, ['100000', '1000000', '100000', '0', '-1', '9223372036854775807', '92233720368547758', 'x']);
}

/** unixSeconds is an EXAT/EXPIREAT time: an hour ahead, or long past. */
function unixSeconds(r: Rand): string {
  return pick(r, [String(Math.floor(Date.now() / 1000) + 3600), '1', '0', '-1']);
}

function unixMillis(r: Rand): string {
  return pick(r, [String(Date.now() + 3_600_000), '1', '0']);
}

/**
 * UNIQUE_SPAN is how many distinct relative times conditionalSeconds draws from. An EXPIRE GT/LT
 * with a relative time compares now + time with the key's expiry; when that expiry came from the
 * same relative time a moment before, the answer depends on whether a millisecond passed between
 * them, on Redis as on distkv. So each conditional relative time is used once and lies 100 s or
 * more from every other relative time the generator sends (2500 + 1000n seconds).
 */
const UNIQUE_SPAN = 100_000;

/** conditionalSeconds is the time of an EXPIRE / PEXPIRE with conditions (in s), or a bad one. */
function conditionalSeconds(r: Rand, used: Set<number>): string {
  const u = r();
  if (u < 0.25) return pick(r, ['0', '-1', 'abc', '9223372036854775807', '+5']);
  let n = Math.floor(r() * UNIQUE_SPAN);
  for (let i = 0; used.has(n) && i < UNIQUE_SPAN; i++) n = (n + 1) % UNIQUE_SPAN;
  used.add(n);
  return String(2500 + 1000 * n);
}

/** expireOptions are 0 to 2 of Redis 7's EXPIRE conditions, in any case, and an unknown one. */
function expireOptions(r: Rand): string[] {
  const n = Math.floor(r() * 3);
  return Array.from({ length: n }, () => pick(r, ['NX', 'XX', 'GT', 'LT', 'gt', 'lt', 'FOO']));
}

/** conditionalExpire is an EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT with conditions. */
function conditionalExpire(r: Rand, used: Set<number>): string[] {
  const name = pick(r, ['EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT']);
  let time: string;
  if (name === 'EXPIREAT') time = unixSeconds(r);
  else if (name === 'PEXPIREAT') time = unixMillis(r);
  else {
    time = conditionalSeconds(r, used);
    if (name === 'PEXPIRE' && /^\d{4,}$/.test(time)) time += '000';
  }
  return [name, key(r), time, ...expireOptions(r)];
}

function setOptions(r: Rand): string[] {
  const out: string[] = [];
  const n = Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const o = pick(r, ['NX', 'XX', 'GET', 'EX', 'PX', 'EXAT', 'PXAT', 'KEEPTTL', 'nx', 'BAD']);
    out.push(o);
    if (o === 'EX') out.push(seconds(r));
    else if (o === 'PX') out.push(millis(r));
    else if (o === 'EXAT') out.push(unixSeconds(r));
    else if (o === 'PXAT') out.push(unixMillis(r));
  }
  return out;
}

function keys(r: Rand, max: number): string[] {
  const n = 1 + Math.floor(r() * max);
  return Array.from({ length: n }, () => key(r));
}

const SCAN_CURSORS = [
  '0',
  '+0',
  '00',
  '-0',
  '',
  '-1',
  '18446744073709551615',
  '18446744073709551616',
  'abc',
  ' 0',
  '0x',
];

/** scanArgs is a SCAN's arguments after the cursor: options, some of them bad. */
export function scanOptions(r: Rand): string[] {
  const out: string[] = [];
  const n = Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const o = pick(r, ['MATCH', 'COUNT', 'TYPE', 'match', 'FOO']);
    if (o.toUpperCase() === 'MATCH')
      out.push(o, pick(r, ['*', '{t}*', '*a*', '{t}[ab]', 'x', '\\{t\\}a', '*\xff*', '?']));
    else if (o === 'COUNT') out.push(o, pick(r, ['1', '3', '10', '1000', '0', '-1', 'abc']));
    else if (o === 'TYPE') out.push(o, pick(r, ['string', 'STRING', 'hash', 'list', 'bogus']));
    else out.push(o, 'x');
  }
  return out;
}

/** NO_CLIENT is a client ID neither server has handed out (the test opens a few connections). */
const NO_CLIENT = '999999999';

/**
 * clientCommand is a CLIENT KILL, PAUSE, UNPAUSE or tracking command that cannot kill or pause
 * the test's own connections: a KILL whose filters match no connection (an ID nobody has, an
 * address nobody uses) or is refused, a PAUSE that is refused, TRACKING OFF, and the rest.
 */
function clientCommand(r: Rand): string[] {
  return pick(r, [
    ['KILL'],
    ['KILL', pick(r, ['1.2.3.4:5', '', 'x'])],
    [
      'KILL',
      'ID',
      pick(r, ['0', '-1', 'abc', NO_CLIENT, '9223372036854775807', '9223372036854775808', '1e3']),
    ],
    ['KILL', 'ADDR', '1.2.3.4:5', 'SKIPME', pick(r, ['yes', 'no', 'NO', 'maybe'])],
    ['KILL', 'LADDR', '1.2.3.4:5', ...(r() < 0.5 ? ['TYPE', 'normal'] : [])],
    ['KILL', 'TYPE', pick(r, ['master', 'replica', 'slave', 'pubsub', 'foo', 'MASTER']), 'ID', NO_CLIENT],
    ['KILL', 'USER', pick(r, ['nobody', 'default', 'DEFAULT']), 'ID', NO_CLIENT],
    ['KILL', 'ID', NO_CLIENT, pick(r, ['FOO', 'TYPE', 'SKIPME'])],
    ['KILL', 'ID', NO_CLIENT, 'FOO', 'bar'],
    ['KILL', 'FOO', 'bar', 'ID', '0'],
    ['PAUSE'],
    ['PAUSE', pick(r, ['-1', 'abc', '1.5', '', '-9223372036854775808']), ...(r() < 0.5 ? ['WRITE'] : [])],
    ['PAUSE', pick(r, ['10', 'abc']), pick(r, ['foo', 'read', ''])],
    ['PAUSE', '10', 'WRITE', 'x'],
    ['UNPAUSE', ...(r() < 0.2 ? ['x'] : [])],
    [
      'TRACKING',
      'off',
      ...pick(r, [
        [],
        ['BCAST'],
        ['NOLOOP', 'OPTIN'],
        ['PREFIX', 'a'],
        ['foo'],
        ['REDIRECT', NO_CLIENT],
        ['REDIRECT', 'x'],
      ]),
    ],
    ['TRACKING', pick(r, ['maybe', ''])],
    ['TRACKING'],
    ['CACHING', pick(r, ['yes', 'no'])],
    ['GETREDIR'],
    ['TRACKINGINFO'],
    ['NO-EVICT', pick(r, ['on', 'off', 'maybe'])],
  ]);
}

/** NOT_SERVED are Redis commands distkv does not serve (docs/resp.md): unknown commands to it. */
const NOT_SERVED = ['HSET', 'LPUSH', 'SADD'];

/**
 * GENERATORS makes each command's arguments, keys first after the name; `used` holds the relative
 * times conditional expiries have taken (conditionalSeconds).
 */
const GENERATORS: readonly ((r: Rand, used: Set<number>) => string[])[] = [
  (r) => ['GET', key(r)],
  (r) => ['SET', key(r), value(r)],
  (r) => ['SET', key(r), value(r), ...setOptions(r)],
  (r) => ['SETNX', key(r), value(r)],
  (r) => ['SETEX', key(r), seconds(r), value(r)],
  (r) => ['PSETEX', key(r), millis(r), value(r)],
  (r) => ['GETSET', key(r), value(r)],
  (r) => ['GETDEL', key(r)],
  (r) => [
    'GETEX',
    key(r),
    ...pick(r, [[], ['EX', seconds(r)], ['PX', millis(r)], ['PERSIST'], ['EXAT', unixSeconds(r)], ['BAD']]),
  ],
  (r) => ['DEL', ...keys(r, 3)],
  (r) => ['UNLINK', ...keys(r, 2)],
  (r) => ['EXISTS', ...keys(r, 3)],
  (r) => ['TOUCH', ...keys(r, 2)],
  (r) => ['MGET', ...keys(r, 4)],
  (r) => ['MSET', ...keys(r, 3).flatMap((k) => [k, value(r)])],
  (r) => ['MSETNX', ...keys(r, 2).flatMap((k) => [k, value(r)])],
  (r) => ['STRLEN', key(r)],
  (r) => ['TYPE', key(r)],
  (r) => ['APPEND', key(r), value(r)],
  (r) => ['GETRANGE', key(r), pick(r, NUMBERS), pick(r, NUMBERS)],
  (r) => ['SETRANGE', key(r), pick(r, ['0', '1', '5', '-1', 'a', '1e3', '1048576', '536870912']), value(r)],
  (r) => ['INCR', key(r)],
  (r) => ['DECR', key(r)],
  (r) => ['INCRBY', key(r), pick(r, NUMBERS)],
  (r) => ['DECRBY', key(r), pick(r, NUMBERS)],
  (r) => ['INCRBYFLOAT', key(r), pick(r, FLOATS)],
  (r) => ['TTL', key(r)],
  (r) => ['PTTL', key(r)],
  (r) => ['EXPIRETIME', key(r)],
  (r) => ['PEXPIRETIME', key(r)],
  (r) => ['EXPIRE', key(r), seconds(r)],
  conditionalExpire,
  conditionalExpire,
  conditionalExpire,
  (r) => [
    'SET',
    key(r),
    value(r),
    'GET',
    ...pick(r, [
      ['EX', seconds(r)],
      ['PX', millis(r)],
      ['EXAT', unixSeconds(r)],
      ['PXAT', unixMillis(r)],
      ['KEEPTTL'],
    ]),
    ...(r() < 0.3 ? [pick(r, ['NX', 'XX'])] : []),
  ],
  (r) => ['PEXPIRE', key(r), millis(r)],
  (r) => ['EXPIREAT', key(r), unixSeconds(r)],
  (r) => ['PEXPIREAT', key(r), unixMillis(r)],
  (r) => ['PERSIST', key(r)],
  (r) => [
    'MEMORY',
    pick(r, ['USAGE', 'usage', 'USAGE', 'NOSUCH']),
    key(r),
    ...pick(r, [
      [],
      [],
      ['SAMPLES', '5'],
      ['SAMPLES', '0'],
      ['SAMPLES', '-1'],
      ['SAMPLES', 'x'],
      ['SAMPLES'],
      ['FOO'],
    ]),
  ],
  (r) => ['KEYS', pick(r, ['*', '{t}*', '*a*', '{t}[ab]', '\\{t\\}a', '*\xff*', 'x'])],
  (r) => ['SCAN', pick(r, SCAN_CURSORS), ...scanOptions(r)],
  () => ['DBSIZE'],
  (r) => ['CLUSTER', 'KEYSLOT', key(r)],
  (r) => ['ECHO', value(r)],
  (r) => ['PING', ...(r() < 0.5 ? [value(r)] : [])],
  (r) => ['GETX', key(r)],
  (r) => ['SELECT', pick(r, ['0', '1', 'abc', '-1'])],
  (r) => ['WAIT', pick(r, ['0', '-1', 'abc']), pick(r, ['0', '10', '-1', 'abc'])],
  (r) => [pick(r, NOT_SERVED), key(r), 'f', value(r)],
  (r) => ['CLIENT', ...clientCommand(r)],
];

/**
 * EXPIRY_GENERATORS make the commands of the expiry sequences: keys written with and without an
 * expiry, then Redis 7's EXPIRE conditions and SET ... GET with an expiry or KEEPTTL on them, and
 * reads of what they left (in GENERATORS most conditional expiries find their key missing).
 */
const EXPIRY_GENERATORS: readonly ((r: Rand, used: Set<number>) => string[])[] = [
  (r) => ['SET', pick(r, SAME_SLOT), value(r)],
  (r) => ['SET', pick(r, SAME_SLOT), value(r), 'EX', pick(r, ['100', '86400'])],
  (r) => ['SET', pick(r, SAME_SLOT), value(r), 'PXAT', unixMillis(r)],
  (r, used) => ['EXPIRE', pick(r, SAME_SLOT), conditionalSeconds(r, used), pick(r, ['NX', 'XX', 'GT', 'LT'])],
  (r, used) => ['PEXPIRE', pick(r, SAME_SLOT), `${conditionalSeconds(r, used)}000`, pick(r, ['GT', 'LT'])],
  (r) => ['EXPIREAT', pick(r, SAME_SLOT), unixSeconds(r), ...expireOptions(r)],
  (r) => ['PEXPIREAT', pick(r, SAME_SLOT), unixMillis(r), pick(r, ['GT', 'LT', 'XX', 'NX'])],
  (r) => [
    'SET',
    pick(r, SAME_SLOT),
    value(r),
    'GET',
    ...pick(r, [['EX', seconds(r)], ['PXAT', unixMillis(r)], ['EXAT', unixSeconds(r)], ['KEEPTTL']]),
    ...(r() < 0.3 ? [pick(r, ['NX', 'XX'])] : []),
  ],
  (r) => ['PERSIST', pick(r, SAME_SLOT)],
  (r) => ['PTTL', pick(r, SAME_SLOT)],
  (r) => ['EXPIRETIME', pick(r, SAME_SLOT)],
  (r) => ['GET', pick(r, SAME_SLOT)],
];

/** generateExpiry returns one random command of an expiry sequence (EXPIRY_GENERATORS). */
export function generateExpiry(r: Rand, used: Set<number>): Step {
  const args = pick(r, EXPIRY_GENERATORS)(r, used);
  return { args, keys: keysOf(args) };
}

/**
 * generate returns one random command (its name's case varied, its arity sometimes wrong); `used`
 * is the sequence's own, kept from one call to the next (conditionalSeconds).
 */
export function generate(r: Rand, used: Set<number>): Step {
  const args = pick(r, GENERATORS)(r, used);
  if (r() < 0.1) args[0] = args[0]!.toLowerCase();
  const u = r();
  if (u < 0.04 && args.length > 1) args.pop();
  else if (u < 0.08) args.push('extra');
  const notServed = NOT_SERVED.includes(args[0]!.toUpperCase()) && args.length > 1;
  return { args, keys: notServed ? [args[1]!] : keysOf(args) };
}

/** keysOf names the keys of a command by its COMMAND key positions (MEMORY USAGE's by its subcommand's, as Redis 7's). */
function keysOf(args: string[]): string[] {
  if (args[0]!.toUpperCase() === 'MEMORY')
    return args[1]?.toUpperCase() === 'USAGE' && args.length > 2 ? [args[2]!] : [];
  const cmd = lookup(args[0]!);
  if (cmd === undefined || cmd.firstKey === 0) return [];
  const last = cmd.lastKey < 0 ? args.length + cmd.lastKey : cmd.lastKey;
  return args.filter((_, i) => i >= cmd.firstKey && i <= last && (i - cmd.firstKey) % cmd.step === 0);
}

/**
 * Verdict is the judge's answer: the same, a difference docs/resp.md states (keys to reset), a
 * difference, or `unreaped`: Redis sized a key distkv answers nil for, which is documented when the
 * key had expired and Redis had not yet reaped it (Redis 7's MEMORY USAGE finds the key without
 * checking its expiry); the caller asks Redis which it was.
 */
export type Verdict = 'same' | 'documented' | 'different' | 'unreaped';

const TOLERANCE: Record<string, number> = { TTL: 1, EXPIRETIME: 1, PTTL: 1500, PEXPIRETIME: 1500 };
const TEN_YEARS_MS = 10 * 365 * 86_400_000;

const isError = (reply: string): boolean => reply.startsWith('-');
const arityError = (reply: string): boolean => reply.startsWith('-ERR wrong number of arguments');

/** elements splits an array reply into its elements' text (latin1). */
export function elements(reply: string, replyEnd: (b: Buffer, p: number) => number): string[] {
  const b = Buffer.from(reply, 'latin1');
  const cr = b.indexOf('\r\n');
  const n = Number(b.toString('latin1', 1, cr));
  const out: string[] = [];
  let at = cr + 2;
  for (let i = 0; i < n; i++) {
    const end = replyEnd(b, at);
    out.push(b.toString('latin1', at, end));
    at = end;
  }
  return out;
}

/** farAhead tells whether a command sets an expiry more than ten years ahead (distkv refuses those). */
function farAhead(args: string[]): boolean {
  const name = args[0]!.toUpperCase();
  const unitAt = (i: number, unitMs: number): boolean => {
    const n = Number(args[i]);
    return Number.isFinite(n) && n * unitMs > TEN_YEARS_MS;
  };
  if (name === 'SETEX' || name === 'EXPIRE') return unitAt(2, 1000);
  if (name === 'PSETEX' || name === 'PEXPIRE') return unitAt(2, 1);
  if (name === 'SET' || name === 'GETEX')
    return args.some(
      (a, i) =>
        (a.toUpperCase() === 'EX' && unitAt(i + 1, 1000)) || (a.toUpperCase() === 'PX' && unitAt(i + 1, 1)),
    );
  return false;
}

/**
 * documented tells whether distkv's reply differs from Redis's as docs/resp.md says it does on
 * purpose: commands it does not serve (DBSIZE on the lsm engine, an upper bound of its live keys
 * that may be above Redis's, or below it by keys Redis has not reaped yet, is judged in `judge`), empty keys and keys over 1024 bytes
 * (distkv keys are 1..max_key_bytes bytes), APPEND and SETRANGE results over max_value_bytes, expiries over ten years. (SCAN -1, an empty last page rather than the keys of Redis's
 * last bucket, passes as a page.)
 */
function documented(args: string[], redis: string, distkv: string): boolean {
  const name = args[0]!.toUpperCase();
  if (NOT_SERVED.includes(name)) return distkv.startsWith(`-ERR unknown command '${args[0]!}'`);
  const cmd = lookup(args[0]!);
  const arityOk =
    cmd !== undefined && (cmd.arity < 0 ? args.length >= -cmd.arity : args.length === cmd.arity);
  if (!arityOk && arityError(redis)) return false;
  const keys = keysOf(args);
  // distkv checks a key's length when it routes it, before the command's other arguments (MSET's
  // pair count too, which Redis checks after its routing, as distkv does).
  if (distkv === '-ERR invalid key: distkv keys are 1 or more bytes\r\n') return keys.includes('');
  if (distkv === '-ERR invalid key: 1103 bytes; limit is 1024\r\n') return keys.includes(LONG_KEY);
  if (isError(redis)) return false;
  if (name === 'SETRANGE' || name === 'APPEND') return distkv === `-${TOO_LONG}\r\n`;
  return farAhead(args) && /^-ERR invalid expire time in '\w+' command\r\n$/.test(distkv);
}

/** judge compares distkv's reply to `args` with redis-server's. */
export function judge(
  args: string[],
  redis: string,
  distkv: string,
  replyEnd: (b: Buffer, p: number) => number,
): Verdict {
  if (redis === distkv) return 'same';
  const name = args[0]!.toUpperCase();
  const tolerance = TOLERANCE[name];
  if (tolerance !== undefined && /^:\d+\r\n$/.test(redis) && /^:\d+\r\n$/.test(distkv))
    return Math.abs(Number(redis.slice(1, -2)) - Number(distkv.slice(1, -2))) <= tolerance
      ? 'same'
      : 'different';
  if (name === 'KEYS' && redis.startsWith('*') && distkv.startsWith('*')) {
    const a = elements(redis, replyEnd).sort();
    const b = elements(distkv, replyEnd).sort();
    return a.join() === b.join() ? 'same' : 'different';
  }
  if (name === 'SCAN' && redis.startsWith('*2\r\n') && distkv.startsWith('*2\r\n')) return 'same';
  // MEMORY USAGE: Redis's allocator sizes, distkv's store bytes (docs/resp.md): a size for a size.
  if (name === 'MEMORY' && /^:\d+\r\n$/.test(redis) && /^:\d+\r\n$/.test(distkv)) return 'same';
  if (name === 'MEMORY' && /^:\d+\r\n$/.test(redis) && (distkv === '$-1\r\n' || distkv === '_\r\n'))
    return 'unreaped';
  // DBSIZE below Redis's: Redis counts keys that expired and were not reaped yet, distkv none once
  // their expiry is written (the caller compares distkv's with Redis's live keys, KEYS *).
  if (name === 'DBSIZE' && /^:\d+\r\n$/.test(redis) && /^:\d+\r\n$/.test(distkv))
    return Number(distkv.slice(1, -2)) >= Number(redis.slice(1, -2)) ? 'documented' : 'unreaped';
  return documented(args, redis, distkv) ? 'documented' : 'different';
}
