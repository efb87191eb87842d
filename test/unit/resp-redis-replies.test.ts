/**
 * Replies to hostile and edge-case commands, each expectation being what redis-server 7.0.15
 * answered to the same command (run side by side with distkv): SCAN's cursor as Redis reads it
 * (strtoul: `-1`, `+0`, `00`, an empty cursor; checked before the options), CONFIG SET's errors in
 * Redis's words, and the arity of the CLIENT, CONFIG and COMMAND subcommands that take no
 * arguments. Each of these answered otherwise before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/resp/command-dispatch.js';
import { ScanCursors } from '../../src/resp/scan-cursors.js';
import { ConnectionLimit } from '../../src/server/connection-limit.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const CONFIG = {
  server: { max_connections: 10000, max_unsent_bytes: 1073741824, max_value_bytes: 1048576, token: '' },
  storage: { durability: 'fsync', engine: 'lsm' },
};

/** MAX_FITTED is the connection limit in force, lower than max_connections (fitted to the open-file limit). */
const MAX_FITTED = 300;

/** run dispatches each command on one fake authenticated connection serving no shard; returns the replies. */
function run(...commands: (string | Buffer)[][]): string[] {
  const c = fakeConnection({
    authenticated: true,
    id: 7,
    name: '',
    remote: '127.0.0.1:1',
    ctx: {
      config: CONFIG,
      cursors: new ScanCursors(),
      liveShards: () => [],
      connections: new ConnectionLimit(MAX_FITTED),
    },
  });
  return commands.map((args) => {
    dispatch(
      c,
      args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a)),
    );
    return takeReply(c);
  });
}

const EMPTY_LAST_PAGE = '*2\r\n$1\r\n0\r\n*0\r\n';
const INVALID_CURSOR = '-ERR invalid cursor\r\n';

describe('SCAN reads its cursor as redis-server 7 does', () => {
  it('answers SCAN -1 (the cursor 2^64 - 1) with the last page, cursor 0, not an invalid cursor', () => {
    assert.deepEqual(run(['SCAN', '-1'], ['SCAN', '18446744073709551615']), [
      EMPTY_LAST_PAGE,
      EMPTY_LAST_PAGE,
    ]);
  });

  it('takes +0, 00, -0 and an empty cursor as 0, the start', () => {
    // This connection serves no shard, so the start is the last page too.
    assert.deepEqual(run(['SCAN', '+0'], ['SCAN', '00'], ['SCAN', '-0'], ['SCAN', '']), [
      EMPTY_LAST_PAGE,
      EMPTY_LAST_PAGE,
      EMPTY_LAST_PAGE,
      EMPTY_LAST_PAGE,
    ]);
  });

  it('refuses what strtoul does not read whole or that passes 2^64 - 1, and a cursor it never handed out', () => {
    const bad = [' 1', '1 ', '0x1', '1.0', '+', '-', 'abc', '18446744073709551616', '-18446744073709551616'];
    assert.deepEqual(
      run(...bad.map((cur) => ['SCAN', cur])),
      bad.map(() => INVALID_CURSOR),
    );
    // distkv on purpose (docs/resp.md): a number it never handed out is refused, not an empty page.
    assert.deepEqual(run(['SCAN', '99999999999']), [INVALID_CURSOR]);
  });

  it('reads the cursor before the options: SCAN abc FOO bar is an invalid cursor, not a syntax error', () => {
    assert.deepEqual(run(['SCAN', 'abc', 'FOO', 'bar'], ['SCAN', '0', 'FOO', 'bar']), [
      INVALID_CURSOR,
      '-ERR syntax error\r\n',
    ]);
  });
});

describe('CONFIG GET maxclients', () => {
  it('answers the limit in force, as INFO does, not server.max_connections when it was lowered', () => {
    assert.deepEqual(run(['CONFIG', 'GET', 'maxclients']), [
      `*2\r\n$10\r\nmaxclients\r\n$${String(MAX_FITTED).length}\r\n${MAX_FITTED}\r\n`,
    ]);
  });
});

describe("CONFIG SET answers in redis-server 7's words", () => {
  it('gives the arity error below one pair and a syntax error for an odd count', () => {
    assert.deepEqual(
      run(['CONFIG', 'SET'], ['CONFIG', 'SET', 'foo'], ['CONFIG', 'SET', 'foo', 'bar', 'baz']),
      [
        "-ERR wrong number of arguments for 'config|set' command\r\n",
        "-ERR wrong number of arguments for 'config|set' command\r\n",
        '-ERR syntax error\r\n',
      ],
    );
  });

  it('names a directive it does not know as Redis names an unknown option, as sent', () => {
    assert.deepEqual(run(['CONFIG', 'set', 'Foo', 'bar'], ['CONFIG', 'SET', 'foo', 'bar', 'baz', 'qux']), [
      "-ERR Unknown option or number of arguments for CONFIG SET - 'Foo'\r\n",
      "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    ]);
  });

  it('refuses changing a setting as Redis refuses an immutable one, and a directive given twice', () => {
    assert.deepEqual(run(['CONFIG', 'SET', 'maxmemory', '10'], ['CONFIG', 'SET', 'save', '', 'save', '']), [
      "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - can't set immutable config\r\n",
      "-ERR CONFIG SET failed (possibly related to argument 'save') - duplicate parameter\r\n",
    ]);
  });

  it('answers OK to setting settings to the values they have, and the first bad pair wins', () => {
    assert.deepEqual(
      run(
        ['CONFIG', 'SET', 'save', '', 'appendfsync', 'ALWAYS'],
        ['CONFIG', 'GET', 'appendfsync'],
        ['CONFIG', 'SET', 'maxmemory', '1', 'nosuch', 'x'],
        ['CONFIG', 'SET', 'nosuch', 'x', 'maxmemory', '1'],
      ),
      [
        '+OK\r\n',
        '*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n',
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - can't set immutable config\r\n",
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
      ],
    );
  });
});

describe('subcommands without arguments refuse extra ones, as redis-server 7 does', () => {
  it('CONFIG HELP, CONFIG REWRITE, CLIENT HELP, COMMAND HELP, CLIENT ID, CLIENT GETNAME, CLIENT INFO', () => {
    const subs = [
      ['CONFIG', 'HELP'],
      ['CONFIG', 'REWRITE'],
      ['CLIENT', 'HELP'],
      ['COMMAND', 'HELP'],
      ['CLIENT', 'ID'],
      ['CLIENT', 'GETNAME'],
      ['CLIENT', 'INFO'],
    ];
    assert.deepEqual(
      run(...subs.map((s) => [...s, 'x'])),
      subs.map(
        ([cmd, sub]) =>
          `-ERR wrong number of arguments for '${cmd!.toLowerCase()}|${sub!.toLowerCase()}' command\r\n`,
      ),
    );
    assert.deepEqual(run(['CLIENT', 'ID'], ['CLIENT', 'GETNAME'], ['CONFIG', 'rewrite']), [
      ':7\r\n',
      '$-1\r\n',
      '+OK\r\n',
    ]);
  });

  it('CLIENT NO-EVICT takes exactly ON or OFF', () => {
    assert.deepEqual(
      run(['CLIENT', 'NO-EVICT'], ['CLIENT', 'NO-EVICT', 'maybe'], ['CLIENT', 'NO-EVICT', 'on']),
      [
        "-ERR wrong number of arguments for 'client|no-evict' command\r\n",
        '-ERR syntax error\r\n',
        '+OK\r\n',
      ],
    );
  });
});

describe('COMMAND GETKEYS and COMMAND LIST FILTERBY answer as redis-server 7 does', () => {
  it('GETKEYS gives the keys at the command key positions, and Redis errors in its order', () => {
    const cases: [string[], string][] = [
      [['COMMAND', 'GETKEYS'], "-ERR wrong number of arguments for 'command|getkeys' command\r\n"],
      [['COMMAND', 'GETKEYS', 'get'], "-ERR wrong number of arguments for 'command|getkeys' command\r\n"],
      [['COMMAND', 'GETKEYS', 'nosuch', 'a'], '-ERR Invalid command specified\r\n'],
      [['COMMAND', 'GETKEYS', 'get', 'a', 'b'], '-ERR Invalid number of arguments specified for command\r\n'],
      [['COMMAND', 'GETKEYS', 'config', 'get', 'x'], '-ERR The command has no key arguments\r\n'],
      [['COMMAND', 'GETKEYS', 'scan', '0'], '-ERR The command has no key arguments\r\n'],
      [['COMMAND', 'GETKEYS', 'GET', 'k'], '*1\r\n$1\r\nk\r\n'],
      [['COMMAND', 'GETKEYS', 'set', 'k', 'v', 'EX', '10'], '*1\r\n$1\r\nk\r\n'],
      [['COMMAND', 'GETKEYS', 'mset', 'a', '1', 'b', '2'], '*2\r\n$1\r\na\r\n$1\r\nb\r\n'],
      [['COMMAND', 'GETKEYS', 'mset', 'a', '1', 'b'], '*2\r\n$1\r\na\r\n$1\r\nb\r\n'],
      [['COMMAND', 'GETKEYS', 'del', 'a', 'b', 'c'], '*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n'],
      // MEMORY USAGE's key is its subcommand's (memory|usage), as in Redis 7.
      [['COMMAND', 'GETKEYS', 'memory', 'usage', 'k'], '*1\r\n$1\r\nk\r\n'],
      [['COMMAND', 'GETKEYS', 'MEMORY', 'USAGE', 'k', 'SAMPLES', '5'], '*1\r\n$1\r\nk\r\n'],
      [
        ['COMMAND', 'GETKEYS', 'memory', 'usage'],
        '-ERR Invalid number of arguments specified for command\r\n',
      ],
      [['COMMAND', 'GETKEYS', 'memory', 'help'], '-ERR The command has no key arguments\r\n'],
    ];
    assert.deepEqual(
      run(...cases.map(([args]) => args)),
      cases.map(([, reply]) => reply),
    );
  });

  it('LIST FILTERBY takes MODULE, ACLCAT or PATTERN with one argument, else a syntax error', () => {
    const [none, bad, badType, pattern, module] = run(
      ['COMMAND', 'LIST', 'FILTERBY'],
      ['COMMAND', 'LIST', 'FILTERBY', 'pattern'],
      ['COMMAND', 'LIST', 'FILTERBY', 'foo', 'bar'],
      ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'GETR*'],
      ['COMMAND', 'LIST', 'FILTERBY', 'module', 'json'],
    );
    assert.deepEqual([none, bad, badType], Array(3).fill('-ERR syntax error\r\n'));
    assert.equal(pattern, '*1\r\n$8\r\ngetrange\r\n');
    assert.equal(module, '*0\r\n');
  });
});
