/**
 * The commands that applications and Redis libraries send beyond distkv's first set (session
 * stores, caches, rate limiters, job locks; docs/resp.md): older forms of SET, in-place string
 * edits, absolute expiries, KEYS, RANDOMKEY, TIME, MEMORY USAGE, RESET (client pools send it before they
 * hand a connection on), and the flush commands it refuses. Arity, flags and key positions
 * are redis-server 7's, so COMMAND describes them as cluster clients expect.
 */
import { ALL_KEYS, type CommandSpec, NO_KEYS, ONE_KEY, spec } from './command-spec.js';
import { reset } from './commands-connection.js';
import * as edits from './commands-edits.js';
import * as expiry from './commands-expiry.js';
import * as keys from './commands-keys.js';
import { memory } from './commands-memory.js';
import * as setFamily from './commands-set-family.js';
import * as strings from './commands-strings.js';
import { time } from './commands-time.js';
import { randomkey } from './random-key.js';

/** COMPAT_COMMANDS lists them. */
export const COMPAT_COMMANDS: readonly CommandSpec[] = [
  spec(
    'setnx',
    3,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Sets a key only when it does not exist.',
    setFamily.setnx,
  ),
  spec(
    'setex',
    4,
    'write denyoom',
    ONE_KEY,
    'string',
    'Sets a key with an expiry in seconds.',
    setFamily.setex(1000),
  ),
  spec(
    'psetex',
    4,
    'write denyoom',
    ONE_KEY,
    'string',
    'Sets a key with an expiry in ms.',
    setFamily.setex(1),
  ),
  spec(
    'getset',
    3,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Sets a key, returning its old value.',
    setFamily.getset,
  ),
  spec('getdel', 2, 'write fast', ONE_KEY, 'string', 'Returns a key and deletes it.', setFamily.getdel),
  spec('getex', -2, 'write fast', ONE_KEY, 'string', 'Returns a key and sets its expiry.', edits.getex),
  spec(
    'msetnx',
    -3,
    'write denyoom',
    [1, -1, 2],
    'string',
    'Sets keys only if none exists.',
    setFamily.msetnx,
  ),
  spec('append', 3, 'write denyoom fast', ONE_KEY, 'string', 'Appends to the value of a key.', edits.append),
  spec(
    'setrange',
    4,
    'write denyoom',
    ONE_KEY,
    'string',
    'Overwrites part of a value at an offset.',
    edits.setrange,
  ),
  spec('getrange', 4, 'readonly', ONE_KEY, 'string', 'Returns a substring of a value.', edits.getrange),
  spec(
    'substr',
    4,
    'readonly',
    ONE_KEY,
    'string',
    'Returns a substring of a value (GETRANGE).',
    edits.getrange,
  ),
  spec(
    'incrbyfloat',
    3,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Adds a float to a value.',
    edits.incrbyfloat,
  ),
  {
    ...spec(
      'reset',
      1,
      'noscript loading stale fast no_auth allow_busy',
      NO_KEYS,
      'connection',
      "Resets the connection's state (as a new connection's).",
      reset,
      true,
    ),
    categories: ['@fast', '@connection'],
  },
  spec('time', 1, 'loading stale fast', NO_KEYS, 'server', "Returns the server's time.", time),
  spec('randomkey', 1, 'readonly', NO_KEYS, 'generic', 'Returns a random key this node serves.', randomkey),
  spec('unlink', -2, 'write fast', ALL_KEYS, 'generic', 'Deletes one or more keys (as DEL).', strings.del),
  spec('touch', -2, 'readonly fast', ALL_KEYS, 'generic', 'Counts the keys that exist.', strings.exists),
  spec(
    'expireat',
    -3,
    'write fast',
    ONE_KEY,
    'generic',
    'Sets the Unix time (s) a key expires at (NX, XX, GT, LT).',
    expiry.expire(1000, true),
  ),
  spec(
    'pexpireat',
    -3,
    'write fast',
    ONE_KEY,
    'generic',
    'Sets the Unix time (ms) a key expires at (NX, XX, GT, LT).',
    expiry.expire(1, true),
  ),
  spec(
    'expiretime',
    2,
    'readonly fast',
    ONE_KEY,
    'generic',
    'Returns the Unix time (s) a key expires at.',
    expiry.ttl(1000, true),
  ),
  spec(
    'pexpiretime',
    2,
    'readonly fast',
    ONE_KEY,
    'generic',
    'Returns the Unix time (ms) a key expires at.',
    expiry.ttl(1, true),
  ),
  spec(
    'keys',
    2,
    'readonly',
    NO_KEYS,
    'generic',
    'Returns the keys matching a pattern (bounded).',
    keys.keys,
  ),
  spec(
    'memory',
    -2,
    '',
    NO_KEYS,
    'server',
    'MEMORY USAGE: the bytes a key and its value take in the store; MEMORY HELP.',
    memory,
  ),
  spec(
    'flushdb',
    -1,
    'write',
    NO_KEYS,
    'server',
    'Refused: distkv cannot empty every shard at once.',
    keys.flush,
  ),
  spec(
    'flushall',
    -1,
    'write',
    NO_KEYS,
    'server',
    'Refused: distkv cannot empty every shard at once.',
    keys.flush,
  ),
];
