/**
 * The errors for an unknown command or subcommand (src/resp/unknown-command.ts) hold what
 * redis-server 7 answers, byte for byte: names and arguments quoted as raw bytes and cut at 128
 * bytes, so the error of a command of a million arguments stays short.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RespWriter } from '../../src/resp/resp-format.js';
import { unknownCommand, unknownSubcommand } from '../../src/resp/unknown-command.js';

/** reply is the RESP error written for `text`. */
function reply(text: Buffer): string {
  const w = new RespWriter(2);
  w.errorBytes(text);
  return w.take().toString('latin1');
}

const args = (...a: (string | Buffer)[]): Buffer[] => a.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x)));

describe('the errors for an unknown command', () => {
  it('quotes the arguments as Redis does: while under 128 bytes, the last one cut to what is left', () => {
    const many = Array.from({ length: 40 }, (_, i) => `a${String(i).padStart(2, '0')}-45678`);
    assert.equal(
      reply(unknownCommand(args('FOO', ...many))),
      "-ERR unknown command 'FOO', with args beginning with: 'a00-45678' 'a01-45678' 'a02-45678' " +
        "'a03-45678' 'a04-45678' 'a05-45678' 'a06-45678' 'a07-45678' 'a08-45678' 'a09-45678' 'a10-4567' \r\n",
    );
    assert.equal(
      reply(unknownCommand(args('FOO', 'x'.repeat(200), 'y'))),
      `-ERR unknown command 'FOO', with args beginning with: '${'x'.repeat(128)}' \r\n`,
    );
    assert.equal(
      reply(unknownCommand(args('x'))),
      "-ERR unknown command 'x', with args beginning with: \r\n",
    );
  });

  it('stays short for a command of a million arguments', () => {
    const a = [Buffer.from('NOSUCH'), ...Array.from({ length: 1 << 20 }, () => Buffer.from('k'))];
    assert.ok(unknownCommand(a).length < 300);
  });

  it('quotes bytes that are not UTF-8 as they are, and makes CR and LF spaces', () => {
    assert.equal(
      reply(unknownCommand(args('FOO', Buffer.from([0xff, 0xfe]), 'a\r\nb'))),
      "-ERR unknown command 'FOO', with args beginning with: '\xff\xfe' 'a  b' \r\n",
    );
  });

  it('cuts an unknown subcommand at 128 bytes', () => {
    assert.equal(
      reply(unknownSubcommand(Buffer.from('x'.repeat(200)), 'CLUSTER')),
      `-ERR unknown subcommand '${'x'.repeat(128)}'. Try CLUSTER HELP.\r\n`,
    );
  });

  it('cuts the name and each argument at a NUL byte, as Redis prints them (C strings)', () => {
    // redis-server 7.0.15's replies to the same commands, found by test/e2e/resp-redis-diff.test.ts.
    assert.equal(
      reply(unknownCommand(args('GE\0TX', 'a\0b', '\0zz', 'c'))),
      "-ERR unknown command 'GE', with args beginning with: 'a' '' 'c' \r\n",
    );
    const many = Array.from({ length: 60 }, () => 'ab\0cdef');
    assert.equal(
      reply(unknownCommand(args('NOSUCH', ...many))),
      `-ERR unknown command 'NOSUCH', with args beginning with: ${"'ab' ".repeat(26)}\r\n`,
    );
    assert.equal(
      reply(unknownSubcommand(Buffer.from('FO\0O'), 'CLUSTER')),
      "-ERR unknown subcommand 'FO'. Try CLUSTER HELP.\r\n",
    );
  });
});
