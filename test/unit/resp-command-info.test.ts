/**
 * COMMAND INFO (src/resp/command-table.ts) answers as redis-server 7 does: without names it
 * describes every command (it answered an empty array), with names one entry per name, nil for
 * a name it does not know (`$-1`, as Redis 7; it was `*-1`, Redis 6's null array).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../src/resp/command-table.js';
import { dispatch } from '../../src/resp/command-dispatch.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

/** run dispatches `args` on a fake authenticated connection and returns the reply. */
function run(...args: string[]): string {
  const c = fakeConnection({ authenticated: true });
  dispatch(
    c,
    args.map((a) => Buffer.from(a)),
  );
  return takeReply(c);
}

describe('COMMAND INFO', () => {
  it('describes every command when no name is given, as COMMAND does', () => {
    const all = run('COMMAND', 'INFO');
    assert.ok(all.startsWith(`*${COMMANDS.length}\r\n`), all.slice(0, 20));
    assert.equal(all, run('COMMAND'));
  });

  it('answers one entry per name, nil for an unknown one', () => {
    const reply = run('COMMAND', 'INFO', 'get', 'nosuch');
    assert.ok(reply.startsWith('*2\r\n*10\r\n$3\r\nget\r\n'), reply.slice(0, 30));
    assert.ok(reply.endsWith('$-1\r\n'), 'a null bulk string, as redis-server 7 answers (addReplyNull)');
  });

  it("describes CLIENT's subcommands by their full names, any case, and COMMAND LIST names them after CLIENT", () => {
    assert.ok(run('COMMAND', 'INFO', 'CLIENT|Kill').startsWith('*1\r\n*10\r\n$11\r\nclient|kill\r\n:-3\r\n'));
    assert.equal(run('COMMAND', 'INFO', 'client|nosuch', 'get|x'), '*2\r\n$-1\r\n$-1\r\n');
    const list = run('COMMAND', 'LIST');
    assert.ok(list.includes('$6\r\nclient\r\n$14\r\nclient|caching\r\n'), 'subcommands follow their command');
    // As redis-server 7.0: ACLCAT connection lists the subcommands (@connection) but not CLIENT itself (@slow only).
    const connection = run('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'connection');
    assert.ok(connection.includes('client|kill\r\n'));
    assert.ok(!connection.includes('$6\r\nclient\r\n'));
  });
});
