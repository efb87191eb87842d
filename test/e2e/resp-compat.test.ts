/**
 * The string and key commands applications send beyond the first set (docs/resp.md), each
 * expectation being what redis-server 7.0 answers to the same bytes unless docs/resp.md says
 * distkv differs: SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MSETNX, APPEND, SETRANGE,
 * GETRANGE/SUBSTR, INCRBYFLOAT, UNLINK, TOUCH, EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME, KEYS,
 * and the refused FLUSHDB/FLUSHALL; their COMMAND key positions, CROSSSLOT, value limits and binary
 * values. Random sequences and concurrent clients: resp-compat-model.test.ts; MOVED and a cluster
 * client: resp-compat-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lookup } from '../../src/resp/command-table.js';
import { slotOf } from '../../src/routing/slot.js';
import { respOf } from '../helpers/resp.js';
import { exchange as exchangeAt, splitReplies, startRespPair } from './resp-wire.js';

let A = '';
let B = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, B, stop } = await startRespPair());
});

after(() => stop());

/** exchange sends `commands` to node A's RESP port and returns the replies' text. */
const exchange = (commands: (string | Buffer)[][], n?: number): Promise<string> =>
  exchangeAt(respOf(A), commands, n);

/** withPrefix renames the keys of a command (at its COMMAND key positions) with `prefix`. */
function withPrefix(prefix: string, args: string[]): string[] {
  const cmd = lookup(args[0]!);
  if (cmd === undefined || cmd.firstKey === 0) return args;
  const last = cmd.lastKey < 0 ? args.length + cmd.lastKey : cmd.lastKey;
  return args.map((a, i) =>
    i >= cmd.firstKey && i <= last && (i - cmd.firstKey) % cmd.step === 0 ? prefix + a : a,
  );
}

/**
 * sameReply compares a reply with Redis's: exactly, except that a TTL of n seconds may read n - 1
 * on a loaded machine (the time between the write and the TTL).
 */
function sameReply(args: string[], got: string, redis: string): boolean {
  if (got === redis) return true;
  if (args[0] !== 'TTL' || !/^:\d+\r\n$/.test(redis)) return false;
  return got === `:${Number(redis.slice(1, -2)) - 1}\r\n`;
}

// redis-server 7.0.15's replies to these commands, each block on an empty database.
const REDIS_REPLIES: readonly [string, [string[], string][]][] = [
  [
    'SETNX, GETSET, GETDEL',
    [
      [['SETNX', 'a', '1'], ':1\r\n'],
      [['SETNX', 'a', '2'], ':0\r\n'],
      [['GET', 'a'], '$1\r\n1\r\n'],
      [['GETSET', 'a', '3'], '$1\r\n1\r\n'],
      [['GETSET', 'nx1', 'v'], '$-1\r\n'],
      [['GET', 'nx1'], '$1\r\nv\r\n'],
      [['GETDEL', 'a'], '$1\r\n3\r\n'],
      [['GETDEL', 'a'], '$-1\r\n'],
      [['EXISTS', 'a'], ':0\r\n'],
    ],
  ],
  [
    'SETEX, PSETEX',
    [
      [['SETEX', 'k', '0', 'v'], "-ERR invalid expire time in 'setex' command\r\n"],
      [['SETEX', 'k', '-1', 'v'], "-ERR invalid expire time in 'setex' command\r\n"],
      [['SETEX', 'k', 'abc', 'v'], '-ERR value is not an integer or out of range\r\n'],
      [['PSETEX', 'k', '0', 'v'], "-ERR invalid expire time in 'psetex' command\r\n"],
      [['SETEX', 'k', '100', 'v'], '+OK\r\n'],
      [['TTL', 'k'], ':100\r\n'],
      [['PSETEX', 'k2', '100000', 'v'], '+OK\r\n'],
      [['SETEX', 'k', '100'], "-ERR wrong number of arguments for 'setex' command\r\n"],
      [['GET', 'k'], '$1\r\nv\r\n'],
    ],
  ],
  [
    'GETRANGE, SUBSTR',
    [
      [['SET', 's', 'Hello World'], '+OK\r\n'],
      [['GETRANGE', 's', '0', '3'], '$4\r\nHell\r\n'],
      [['GETRANGE', 's', '-3', '-1'], '$3\r\nrld\r\n'],
      [['GETRANGE', 's', '0', '-1'], '$11\r\nHello World\r\n'],
      [['GETRANGE', 's', '10', '100'], '$1\r\nd\r\n'],
      [['GETRANGE', 's', '5', '3'], '$0\r\n\r\n'],
      [['GETRANGE', 's', '-100', '-50'], '$1\r\nH\r\n'],
      [['GETRANGE', 's', '-1', '-5'], '$0\r\n\r\n'],
      [['GETRANGE', 's', '-100', '100'], '$11\r\nHello World\r\n'],
      [['GETRANGE', 's', '20', '30'], '$0\r\n\r\n'],
      [['GETRANGE', 's', '3', '-100'], '$0\r\n\r\n'],
      [['GETRANGE', 's', 'a', '1'], '-ERR value is not an integer or out of range\r\n'],
      [['GETRANGE', 'missing', '0', '-1'], '$0\r\n\r\n'],
      [['SUBSTR', 's', '1', '2'], '$2\r\nel\r\n'],
      [['GETRANGE', 's', '0'], "-ERR wrong number of arguments for 'getrange' command\r\n"],
    ],
  ],
  [
    'SETRANGE',
    [
      [['SETRANGE', 's', '-1', 'x'], '-ERR offset is out of range\r\n'],
      [['SETRANGE', 's', 'a', 'x'], '-ERR value is not an integer or out of range\r\n'],
      [['SETRANGE', 'nk', '0', ''], ':0\r\n'],
      [['EXISTS', 'nk'], ':0\r\n'],
      [['SETRANGE', 'nk', '3', 'ab'], ':5\r\n'],
      [['GET', 'nk'], '$5\r\n\u0000\u0000\u0000ab\r\n'],
      [['SETRANGE', 'nk', '1', ''], ':5\r\n'],
      [['SETRANGE', 'nk', '0', 'XYZW'], ':5\r\n'],
      [['GET', 'nk'], '$5\r\nXYZWb\r\n'],
      [['SETRANGE', 'nk', '2', 'Q'], ':5\r\n'],
      [['GET', 'nk'], '$5\r\nXYQWb\r\n'],
    ],
  ],
  [
    'APPEND',
    [
      [['APPEND', 'ap', 'Hello'], ':5\r\n'],
      [['APPEND', 'ap', ' World'], ':11\r\n'],
      [['GET', 'ap'], '$11\r\nHello World\r\n'],
      [['APPEND', 'ap', ''], ':11\r\n'],
      [['STRLEN', 'ap'], ':11\r\n'],
    ],
  ],
  [
    'APPEND, SETRANGE, INCRBYFLOAT, INCR keep the TTL',
    [
      [['SET', 't', 'v', 'EX', '100'], '+OK\r\n'],
      [['APPEND', 't', 'w'], ':2\r\n'],
      [['TTL', 't'], ':100\r\n'],
      [['SETRANGE', 't', '0', 'z'], ':2\r\n'],
      [['TTL', 't'], ':100\r\n'],
      [['INCRBYFLOAT', 'n', '1.5'], '$3\r\n1.5\r\n'],
      [['EXPIRE', 'n', '100'], ':1\r\n'],
      [['INCRBYFLOAT', 'n', '1'], '$3\r\n2.5\r\n'],
      [['TTL', 'n'], ':100\r\n'],
      [['SET', 'i', '1', 'EX', '100'], '+OK\r\n'],
      [['INCR', 'i'], ':2\r\n'],
      [['TTL', 'i'], ':100\r\n'],
      [['GET', 't'], '$2\r\nzw\r\n'],
    ],
  ],
  [
    'INCRBYFLOAT',
    [
      [['INCRBYFLOAT', 'f', '0.1'], '$3\r\n0.1\r\n'],
      [['INCRBYFLOAT', 'f', '0.2'], '$3\r\n0.3\r\n'],
      [['INCRBYFLOAT', 'f', '1e3'], '$22\r\n1000.29999999999999999\r\n'],
      [['INCRBYFLOAT', 'f', 'inf'], '-ERR increment would produce NaN or Infinity\r\n'],
      [['INCRBYFLOAT', 'f', 'abc'], '-ERR value is not a valid float\r\n'],
      [['SET', 's', 'abc'], '+OK\r\n'],
      [['INCRBYFLOAT', 's', '1'], '-ERR value is not a valid float\r\n'],
      [['INCRBYFLOAT', 'f', '-1000.3'], '$1\r\n0\r\n'],
      [['INCRBYFLOAT', 'f', ' 1'], '-ERR value is not a valid float\r\n'],
      [['INCRBYFLOAT', 'f', '5.0e3'], '$4\r\n5000\r\n'],
      [['INCRBYFLOAT', 'g', '1e5000'], '-ERR value is not a valid float\r\n'],
      [['INCRBYFLOAT', 'g', '0x1.8p3'], '$2\r\n12\r\n'],
      [['INCRBYFLOAT', 'g', '-0'], '$2\r\n12\r\n'],
      [['GET', 'f'], '$4\r\n5000\r\n'],
    ],
  ],
  [
    'GETEX',
    [
      [['SET', 'k', 'v'], '+OK\r\n'],
      [['GETEX', 'k', 'EX', '0'], "-ERR invalid expire time in 'getex' command\r\n"],
      [['GETEX', 'k', 'EX'], '-ERR syntax error\r\n'],
      [['GETEX', 'k', 'FOO'], '-ERR syntax error\r\n'],
      [['GETEX', 'k', 'EX', '10', 'PX', '10'], '-ERR syntax error\r\n'],
      [['GETEX', 'k', 'PERSIST', 'EX', '10'], '-ERR syntax error\r\n'],
      [['GETEX', 'k', 'EX', '100'], '$1\r\nv\r\n'],
      [['TTL', 'k'], ':100\r\n'],
      [['GETEX', 'k', 'persist'], '$1\r\nv\r\n'],
      [['TTL', 'k'], ':-1\r\n'],
      [['GETEX', 'missing', 'EX', '10'], '$-1\r\n'],
      [['GETEX', 'k'], '$1\r\nv\r\n'],
      [['GETEX', 'k', 'PX', '100000', 'PX', '200000'], '$1\r\nv\r\n'],
      [['GETEX', 'k', 'EXAT', '1'], '$1\r\nv\r\n'],
      [['EXISTS', 'k'], ':0\r\n'],
      [['GETEX', 'k', 'EX', 'abc'], '$-1\r\n'],
    ],
  ],
  [
    'EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME',
    [
      [['SET', 'e', 'v'], '+OK\r\n'],
      [['EXPIREAT', 'e', '1'], ':1\r\n'],
      [['EXISTS', 'e'], ':0\r\n'],
      [['EXPIREAT', 'missing', '1'], ':0\r\n'],
      [['SET', 'e', 'v'], '+OK\r\n'],
      [['EXPIREAT', 'e', 'abc'], '-ERR value is not an integer or out of range\r\n'],
      [['EXPIRETIME', 'e'], ':-1\r\n'],
      [['PEXPIRETIME', 'e'], ':-1\r\n'],
      [['EXPIRETIME', 'missing'], ':-2\r\n'],
      [['PEXPIREAT', 'e', '0'], ':1\r\n'],
      [['EXISTS', 'e'], ':0\r\n'],
    ],
  ],
  [
    'MSETNX, TOUCH, UNLINK',
    [
      [['MSETNX', '{m}a', '1', '{m}b', '2'], ':1\r\n'],
      [['MSETNX', '{m}b', '3', '{m}c', '4'], ':0\r\n'],
      [['MGET', '{m}a', '{m}b', '{m}c'], '*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n'],
      [['MSETNX', '{m}a'], "-ERR wrong number of arguments for 'msetnx' command\r\n"],
      [['MSETNX', '{m}x', '1', '{m}x', '2'], ':1\r\n'],
      [['GET', '{m}x'], '$1\r\n2\r\n'],
      [['TOUCH', '{m}a', '{m}b', '{m}c', '{m}a'], ':3\r\n'],
      [['UNLINK', '{m}a', '{m}b', '{m}c'], ':2\r\n'],
      [['TOUCH', '{m}a'], ':0\r\n'],
    ],
  ],
];

// redis-server 7.0.15's COMMAND INFO: name, arity, flags, first key, last key, step.
const REDIS_COMMAND_INFO: readonly [string, number, string, number, number, number][] = [
  ['setnx', 3, 'write denyoom fast', 1, 1, 1],
  ['setex', 4, 'write denyoom', 1, 1, 1],
  ['psetex', 4, 'write denyoom', 1, 1, 1],
  ['getdel', 2, 'write fast', 1, 1, 1],
  ['getex', -2, 'write fast', 1, 1, 1],
  ['unlink', -2, 'write fast', 1, -1, 1],
  ['expireat', -3, 'write fast', 1, 1, 1],
  ['pexpireat', -3, 'write fast', 1, 1, 1],
  ['expiretime', 2, 'readonly fast', 1, 1, 1],
  ['pexpiretime', 2, 'readonly fast', 1, 1, 1],
  ['touch', -2, 'readonly fast', 1, -1, 1],
  ['append', 3, 'write denyoom fast', 1, 1, 1],
  ['getrange', 4, 'readonly', 1, 1, 1],
  ['substr', 4, 'readonly', 1, 1, 1],
  ['setrange', 4, 'write denyoom', 1, 1, 1],
  ['incrbyfloat', 3, 'write denyoom fast', 1, 1, 1],
  ['msetnx', -3, 'write denyoom', 1, -1, 2],
  ['getset', 3, 'write denyoom fast', 1, 1, 1],
  ['keys', 2, 'readonly', 0, 0, 0],
  ['flushdb', -1, 'write', 0, 0, 0],
  ['flushall', -1, 'write', 0, 0, 0],
];

describe('RESP commands beyond the first set, answered as redis-server 7 answers them', () => {
  REDIS_REPLIES.forEach(([name, rows], block) => {
    it(`${name}: the replies redis-server gives to the same commands`, async () => {
      const commands = rows.map(([args]) => withPrefix(`b${block}:`, args));
      const got = splitReplies(await exchange(commands));
      rows.forEach(([args, redis], i) => {
        assert.ok(
          sameReply(args, got[i] ?? '', redis),
          `${args.join(' ')}: got ${JSON.stringify(got[i])}, redis ${JSON.stringify(redis)}`,
        );
      });
    });
  });

  it("COMMAND INFO gives each new command redis-server's arity, flags and key positions", async () => {
    const names = REDIS_COMMAND_INFO.map(([n]) => n);
    const text = await exchange([['COMMAND', 'INFO', ...names]]);
    for (const [name, arity, flags, first, last, step] of REDIS_COMMAND_INFO) {
      const want = arity;
      const flagText = flags
        .split(' ')
        .map((f) => `+${f}\r\n`)
        .join('');
      const entry = `*10\r\n$${name.length}\r\n${name}\r\n:${want}\r\n*${flags.split(' ').length}\r\n${flagText}:${first}\r\n:${last}\r\n:${step}\r\n`;
      assert.ok(text.includes(entry), `${name}: ${entry} not in ${text.slice(0, 300)}`);
    }
    const docs = await exchange([['COMMAND', 'DOCS', ...names]]);
    for (const name of names) assert.ok(docs.includes(`$${name.length}\r\n${name}\r\n`), name);
  });

  it('KEYS lists the matching keys of every shard this node leads, including writes pipelined just before it', async () => {
    const keys = ['kk:a', 'kk:b', 'kk:ab', 'kk:{x}c', 'other'];
    const text = await exchange([
      ...keys.map((k) => ['SET', k, 'v']),
      ['KEYS', 'kk:?'],
      ['KEYS', 'kk:*'],
      ['KEYS', 'none*'],
    ]);
    const replies = splitReplies(text);
    const listed = (r: string): string[] =>
      r.split('\r\n').filter((l, i) => i > 0 && !l.startsWith('$') && l !== '');
    assert.deepEqual(listed(replies[5]!).sort(), ['kk:a', 'kk:b']);
    assert.deepEqual(listed(replies[6]!).sort(), ['kk:a', 'kk:ab', 'kk:b', 'kk:{x}c']);
    assert.equal(replies[7], '*0\r\n');
  });

  it('SCAN pipelined behind a write of a key sees it, as KEYS does', async () => {
    // Keys of shard 0 (slots below 8192 with two shards), which SCAN's first page covers.
    const keys = Array.from({ length: 60 }, (_, i) => `scanord:${i}`).filter((k) => slotOf(k) < 8192);
    for (const key of keys.slice(0, 10)) {
      const text = await exchange([
        ['SET', key, 'v'],
        ['SCAN', '0', 'MATCH', key, 'COUNT', '100000'],
      ]);
      assert.ok(text.includes(`$${key.length}\r\n${key}\r\n`), `${key}: ${text}`);
    }
  });

  it('INFO and DBSIZE pipelined behind writes count them', async () => {
    const keysOf = (text: string): number => Number(/db0:keys=(\d+)/.exec(text)?.[1] ?? 0);
    const sizeOf = (text: string): number => Number(/:(\d+)\r\n$/.exec(text)?.[1] ?? -1);
    for (let i = 0; i < 10; i++) {
      const before = await exchange([['INFO', 'keyspace']]);
      const after = await exchange([
        ['SET', `infoord:${i}`, 'v'],
        ['INFO', 'keyspace'],
      ]);
      assert.equal(keysOf(after), keysOf(before) + 1, `INFO after SET ${i}: ${after}`);
      const size = await exchange([['DBSIZE']]);
      const grown = await exchange([['SET', `infoord:b${i}`, 'v'], ['DBSIZE']]);
      assert.equal(sizeOf(grown), sizeOf(size) + 1, `DBSIZE after SET ${i}: ${grown}`);
    }
  });

  it('FLUSHDB and FLUSHALL are refused with an error that says why, and delete nothing', async () => {
    const text = await exchange([
      ['SET', 'flush:1', 'v'],
      ['FLUSHDB'],
      ['FLUSHALL', 'ASYNC'],
      ['GET', 'flush:1'],
    ]);
    assert.match(
      text,
      /^\+OK\r\n-ERR FLUSHDB is not supported by distkv: [^\r]+\r\n-ERR FLUSHALL is not supported by distkv: [^\r]+\r\n\$1\r\nv\r\n$/,
    );
  });

  it('MSETNX, TOUCH and UNLINK of keys in different slots get CROSSSLOT (MOVED: resp-compat-cluster.test.ts)', async () => {
    assert.equal(
      await exchange([
        ['MSETNX', 'a', '1', 'b', '2'],
        ['TOUCH', 'a', 'b'],
        ['UNLINK', 'a', 'b'],
        ['EXISTS', 'a', 'b'],
      ]),
      "-CROSSSLOT Keys in request don't hash to the same slot\r\n".repeat(4),
    );
  });

  it('refuses a result over max_value_bytes, writing nothing: APPEND and SETRANGE as Redis does over proto-max-bulk-len, SETEX, GETSET, SETNX, MSETNX as SET does', async () => {
    const big = Buffer.alloc(600 * 1024, 'a');
    const over = Buffer.alloc(1024 * 1024 + 1, 'b');
    const text = await exchange([
      ['APPEND', 'lim:1', big],
      ['APPEND', 'lim:1', big],
      ['STRLEN', 'lim:1'],
      ['SETRANGE', 'lim:2', String(1024 * 1024), 'x'],
      ['SETRANGE', 'lim:2', String(1024 * 1024 - 1), 'x'],
      ['SETEX', 'lim:3', '100', over],
      ['GETSET', 'lim:3', over],
      ['SETNX', 'lim:3', over],
      ['MSETNX', 'lim:3', 'v', 'lim:3', over],
      ['EXISTS', 'lim:3'],
    ]);
    const limit = 'limit is 1048576\r\n';
    // redis-server 7.0.15's words (proto-max-bulk-len 1048576; CONFIG GET reports max_value_bytes so).
    const TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';
    assert.equal(
      text,
      `:614400\r\n-${TOO_LONG}\r\n:614400\r\n-${TOO_LONG}\r\n:1048576\r\n` +
        `-ERR value is 1048577 bytes; ${limit}`.repeat(4) +
        ':0\r\n',
    );
  });

  it('keeps values binary-safe: APPEND, SETRANGE and GETRANGE of bytes that are not UTF-8', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
    const text = await exchange([
      ['APPEND', 'bin:1', bytes],
      ['APPEND', 'bin:1', bytes],
      ['SETRANGE', 'bin:1', '1', Buffer.from([0xfe])],
      ['GETRANGE', 'bin:1', '0', '2'],
      ['GETSET', 'bin:1', bytes],
    ]);
    const expectBin = (b: Buffer): string => `$${b.length}\r\n${b.toString('latin1')}\r\n`;
    const after = Buffer.concat([bytes, bytes]);
    after[1] = 0xfe;
    assert.equal(text, `:5\r\n:10\r\n:10\r\n${expectBin(after.subarray(0, 3))}${expectBin(after)}`);
  });

  it('EXPIREAT and PEXPIREAT set the Unix time that EXPIRETIME and PEXPIRETIME report', async () => {
    const at = Math.floor(Date.now() / 1000) + 3600;
    const atMs = Date.now() + 7_200_000;
    const text = await exchange([
      ['SET', 'at:1', 'v'],
      ['EXPIREAT', 'at:1', String(at)],
      ['EXPIRETIME', 'at:1'],
      ['PEXPIRETIME', 'at:1'],
      ['SET', 'at:2', 'v'],
      ['PEXPIREAT', 'at:2', String(atMs)],
      ['PEXPIRETIME', 'at:2'],
      ['EXPIREAT', 'at:1', String(at + 20 * 365 * 86400)],
    ]);
    assert.equal(
      text,
      `+OK\r\n:1\r\n:${at}\r\n:${at * 1000}\r\n+OK\r\n:1\r\n:${atMs}\r\n-ERR invalid expire time in 'expireat' command\r\n`,
    );
  });

  it("applies EXPIRE's NX/XX/GT/LT as Redis 7 does (no expiry counts as infinite), with its errors; refuses seconds that overflow", async () => {
    const text = await exchange([
      ['SET', 'xo:1', 'v'],
      ['EXPIRE', 'xo:1', '100', 'NX'],
      ['EXPIRE', 'xo:1', '200', 'nx'],
      ['PEXPIREAT', 'xo:1', '1', 'gt'],
      ['EXPIRE', 'xo:1', '50', 'XX', 'LT'],
      ['TTL', 'xo:1'],
      ['EXPIRE', 'xo:1', '100', 'FOO'],
      ['EXPIRE', 'xo:1', '100', 'NX', 'XX'],
      ['EXPIRE', 'xo:1', '100', 'GT', 'LT'],
      ['EXPIRE', 'xo:1', 'abc', 'NX'],
      // Seconds whose ms overflow 64 bits: refused, as Redis does, not taken as a time past.
      ['EXPIRE', 'xo:1', '-9223372036854776'],
      ['EXPIREAT', 'xo:1', '-9223372036854776'],
      ['PERSIST', 'xo:1'],
      ['EXPIRE', 'xo:1', '100', 'GT'],
      ['EXPIRE', 'xo:1', '100', 'XX'],
      ['TTL', 'xo:1'],
      // A time past with a condition that holds deletes the key and answers 1.
      ['PEXPIREAT', 'xo:1', '1', 'LT'],
      ['EXISTS', 'xo:1'],
      ['EXPIRE', 'xo:1', '100', 'LT'],
    ]);
    assert.deepEqual(splitReplies(text), [
      '+OK\r\n',
      ':1\r\n',
      ':0\r\n',
      ':0\r\n',
      ':1\r\n',
      ':50\r\n',
      // Redis's words for an option it does not know, options together, and a time that is no integer.
      '-ERR Unsupported option FOO\r\n',
      '-ERR NX and XX, GT or LT options at the same time are not compatible\r\n',
      '-ERR GT and LT options at the same time are not compatible\r\n',
      '-ERR value is not an integer or out of range\r\n',
      "-ERR invalid expire time in 'expire' command\r\n",
      "-ERR invalid expire time in 'expireat' command\r\n",
      ':1\r\n',
      ':0\r\n',
      ':0\r\n',
      ':-1\r\n',
      ':1\r\n',
      ':0\r\n',
      ':0\r\n',
    ]);
  });

  it('answers SET ... GET with EX/PX/EXAT/PXAT/KEEPTTL: the old value, with the expiry set, kept, or the key deleted for a time past', async () => {
    const text = await exchange([
      ['SET', 'sg:1', 'a'],
      ['SET', 'sg:1', 'b', 'GET', 'EX', '100'],
      ['TTL', 'sg:1'],
      ['SET', 'sg:1', 'c', 'KEEPTTL', 'GET'],
      ['TTL', 'sg:1'],
      ['SET', 'sg:1', 'd', 'NX', 'GET', 'PX', '5000'],
      ['SET', 'sg:1', 'e', 'XX', 'GET', 'PXAT', '1'],
      ['EXISTS', 'sg:1'],
      ['SET', 'sg:1', 'f', 'GET', 'EXAT', String(Math.floor(Date.now() / 1000) + 300)],
      ['GET', 'sg:1'],
      ['TTL', 'sg:1'],
    ]);
    const replies = splitReplies(text);
    assert.deepEqual(replies.slice(0, 2), ['+OK\r\n', '$1\r\na\r\n']);
    assert.equal(replies[2], ':100\r\n');
    assert.deepEqual(replies.slice(3, 10), [
      '$1\r\nb\r\n',
      ':100\r\n',
      '$1\r\nc\r\n',
      '$1\r\nc\r\n',
      ':0\r\n',
      '$-1\r\n',
      '$1\r\nf\r\n',
    ]);
    assert.match(replies[10]!, /^:(299|300)\r\n$/);
  });

  it('answers CLIENT HELP, CONFIG HELP and COMMAND HELP, which their unknown-subcommand errors point to', async () => {
    const replies = splitReplies(
      await exchange([
        ['CLIENT', 'nosuch'],
        ['CLIENT', 'HELP'],
        ['CONFIG', 'help'],
        ['COMMAND', 'HELP'],
      ]),
    );
    assert.equal(replies[0], "-ERR unknown subcommand 'nosuch'. Try CLIENT HELP.\r\n");
    for (const [i, name] of [
      [1, 'CLIENT'],
      [2, 'CONFIG'],
      [3, 'COMMAND'],
    ] as const)
      assert.match(replies[i]!, new RegExp(`^\\*\\d+\\r\\n\\+${name} <subcommand>`));
  });

  it('CLIENT REPLY OFF and SKIP silence replies as Redis does, so a client that sent them stays in step', async () => {
    const commands = [
      ['SET', 'cr:1', '1'],
      ['CLIENT', 'REPLY', 'OFF'],
      ['SET', 'cr:1', '2'],
      ['GET', 'cr:1'],
      ['INCR', 'cr:1'],
      ['GET'],
      ['CLIENT', 'REPLY', 'ON'],
      ['GET', 'cr:1'],
      ['CLIENT', 'REPLY', 'SKIP'],
      ['GET', 'cr:1'],
      ['ECHO', 'after'],
      ['CLIENT', 'REPLY', 'bogus'],
      ['CLIENT', 'REPLY'],
      ['CLIENT', 'REPLY', 'SKIP'],
      ['NOSUCH'],
      ['PING'],
    ];
    // redis-server 7.0.15's replies to the same bytes.
    const redis = [
      '+OK\r\n',
      '+OK\r\n',
      '$1\r\n3\r\n',
      '$5\r\nafter\r\n',
      '-ERR syntax error\r\n',
      "-ERR wrong number of arguments for 'client|reply' command\r\n",
      '+PONG\r\n',
    ];
    assert.deepEqual(splitReplies(await exchange(commands, redis.length)), redis);
  });

  it('replicas hold what the edits wrote, with the same expiry (read at the replica after WAIT and READONLY)', async () => {
    const keys = ['rep:1', 'rep:2', 'rep:3', 'rep:4'];
    const leader = await exchange([
      ['SETEX', keys[0]!, '1000', 'a'],
      ['APPEND', keys[0]!, 'b'],
      ['SET', keys[1]!, '1.5', 'PX', '2000000'],
      ['INCRBYFLOAT', keys[1]!, '1'],
      ['SET', keys[2]!, 'x'],
      ['GETEX', keys[2]!, 'EX', '3000'],
      ['SET', keys[3]!, 'gone'],
      ['GETEX', keys[3]!, 'PXAT', '1'],
      ['WAIT', '1', '10000'],
      ...keys.flatMap((k) => [
        ['GET', k],
        ['PEXPIRETIME', k],
      ]),
    ]);
    const replica = await exchangeAt(respOf(B), [
      ['READONLY'],
      ...keys.flatMap((k) => [
        ['GET', k],
        ['PEXPIRETIME', k],
      ]),
    ]);
    const replies = splitReplies(leader);
    assert.match(replies[8] ?? '', /^:[1-9]/, 'WAIT 1 saw a replica acknowledge the edits');
    const tail = replies.slice(9);
    assert.deepEqual(splitReplies(replica).slice(1), tail);
    assert.deepEqual(
      tail.filter((_, i) => i % 2 === 0),
      ['$2\r\nab\r\n', '$3\r\n2.5\r\n', '$1\r\nx\r\n', '$-1\r\n'],
    );
  });

  it("INCR keeps the key's TTL, as Redis's INCR does (a rate limiter's window)", async () => {
    const text = await exchange([
      ['SET', 'rate:1', '1', 'EX', '100'],
      ['INCR', 'rate:1'],
      ['INCR', 'rate:1'],
      ['TTL', 'rate:1'],
    ]);
    assert.match(text, /^\+OK\r\n:2\r\n:3\r\n:(99|100)\r\n$/);
  });

  it("TTL pipelined behind a write and before a DEL of the key answers as of its place, not the DEL's effect", async () => {
    const text = await exchange([
      ['SET', 'ttlord:1', 'v'],
      ['TTL', 'ttlord:1'],
      ['DEL', 'ttlord:1'],
      ['TTL', 'ttlord:1'],
      ['SET', 'ttlord:2', 'v', 'EX', '100'],
      ['APPEND', 'ttlord:2', 'w'],
      ['TTL', 'ttlord:2'],
      ['DEL', 'ttlord:2'],
    ]);
    assert.match(text, /^\+OK\r\n:-1\r\n:1\r\n:-2\r\n\+OK\r\n:2\r\n:(99|100)\r\n:1\r\n$/);
  });
});
