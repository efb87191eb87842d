/**
 * The differences test/e2e/resp-redis-diff.test.ts found between distkv and redis-server 7, each
 * kept as a case with redis-server 7.0.15's reply to the same bytes (so they hold where
 * redis-server is not installed): EXPIRE's options checked before its time, in Redis's words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RespConn } from '../helpers/resp-conn.js';
import { respOf } from '../helpers/resp.js';
import { startOneNode } from '../helpers/server-process.js';

let conn: RespConn | undefined;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  const node = await startOneNode('', ['--workers', '1']);
  stop = node.stop;
  conn = await RespConn.open(respOf(node.address));
});

after(async () => {
  conn?.close();
  await stop();
});

/** expectReplies sends `cases`' commands in one pipeline and checks each reply. */
async function expectReplies(cases: [string[], string][]): Promise<void> {
  const replies = await conn!.send(cases.map(([args]) => args));
  assert.deepEqual(
    cases.map(([args], i) => [args.join(' '), replies[i]]),
    cases.map(([args, reply]) => [args.join(' '), reply]),
  );
}

describe("EXPIRE's options, as redis-server 7 checks them", () => {
  it('refuses an unknown option, then incompatible ones, then a bad time, before it refuses NX/XX/GT/LT', async () => {
    await expectReplies([
      [['EXPIRE', 'k', 'abc', 'extra'], '-ERR Unsupported option extra\r\n'],
      [['PEXPIRE', 'k', 'x', 'extra'], '-ERR Unsupported option extra\r\n'],
      [['EXPIREAT', 'k', '1', 'a\0b'], '-ERR Unsupported option a\r\n'],
      [
        ['EXPIRE', 'k', 'abc', 'NX', 'XX'],
        '-ERR NX and XX, GT or LT options at the same time are not compatible\r\n',
      ],
      [
        ['EXPIRE', 'k', '100', 'NX', 'GT'],
        '-ERR NX and XX, GT or LT options at the same time are not compatible\r\n',
      ],
      [['PEXPIRE', 'k', '100', 'GT', 'LT'], '-ERR GT and LT options at the same time are not compatible\r\n'],
      [['EXPIRE', 'k', 'abc', 'NX'], '-ERR value is not an integer or out of range\r\n'],
      [['EXPIRE', 'k', '9223372036854775807', 'NX'], "-ERR invalid expire time in 'expire' command\r\n"],
    ]);
  });
});
