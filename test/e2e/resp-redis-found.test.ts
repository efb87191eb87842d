/**
 * The differences test/e2e/resp-redis-diff.test.ts found between distkv and redis-server 7, each
 * kept as a case with redis-server 7.0.15's reply to the same bytes (so they hold where
 * redis-server is not installed): EXPIRE's options checked before its time, in Redis's words;
 * SCAN on a node of several shards ending at once over a small database, as Redis's does; and one
 * a tester took for a difference: `MSET a 1 b` (keys of two slots) answered CROSSSLOT, as a Redis
 * Cluster node answers it (a standalone redis-server, which checks no slots, answers the arity error).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RespConn } from '../helpers/resp-conn.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';

let conn: RespConn | undefined;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  // One node leading four shards: SCAN walks them in turn.
  const address = await freeNodeAddress();
  const node = await startOwnServer(
    [0, 1, 2, 3].map(() => ({ address })),
    '',
    ['--workers', '1'],
  );
  stop = node.stop;
  conn = await RespConn.open(respOf(address));
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

/** scanReply splits a SCAN reply into its cursor and its keys, sorted. */
function scanReply(reply: string): [string, string[]] {
  const lines = reply.split('\r\n');
  const keys = lines.slice(4, -1).filter((_, i) => i % 2 === 1);
  return [lines[2]!, keys.sort()];
}

describe('SCAN over a small database on a node of several shards, as redis-server 7 answers it', () => {
  it('answers the whole scan at once (cursor 0) when COUNT covers every key, not one shard per call', async () => {
    // Keys of different slots, hence of the four shards; redis-server 7.0.15 answers each SCAN
    // below with the cursor 0 and every key matching.
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await conn!.send(keys.map((k) => ['SET', k, k]));
    const replies = await conn!.send([
      ['SCAN', '0'],
      ['SCAN', '0', 'COUNT', '1000', 'MATCH', '[a-c]'],
      ['SCAN', '0', 'TYPE', 'string'],
    ]);
    assert.deepEqual(replies.map(scanReply), [
      ['0', keys],
      ['0', ['a', 'b', 'c']],
      ['0', keys],
    ]);
  });

  it('answers SCAN 0 TYPE hash (a type distkv does not store) with the cursor 0 and no keys', async () => {
    // redis-server 7.0.15's reply to the first; to the second it answers the cursor 2 and walks
    // on to an empty end: distkv ends at once, as no key of another type can turn up (docs/resp.md).
    await expectReplies([
      [['SCAN', '0', 'TYPE', 'hash'], '*2\r\n$1\r\n0\r\n*0\r\n'],
      [['SCAN', '0', 'TYPE', 'list', 'COUNT', '1'], '*2\r\n$1\r\n0\r\n*0\r\n'],
    ]);
  });
});

describe('MSET and MSETNX with a key without its value, as a redis-server 7 cluster node answers them', () => {
  // A standalone redis-server answers `MSET a 1 b` with the arity error: it checks no slots. A
  // cluster node (what distkv is, and test/helpers/redis-server.ts runs) routes by the keys first,
  // so keys of two slots get CROSSSLOT; the pairs are counted once the keys share a slot.
  it('answers CROSSSLOT for keys of two slots, the arity error for keys of one slot', async () => {
    await expectReplies([
      [['MSET', 'a', '1', 'b'], "-CROSSSLOT Keys in request don't hash to the same slot\r\n"],
      [['MSETNX', 'a', '1', 'b'], "-CROSSSLOT Keys in request don't hash to the same slot\r\n"],
      [['MSET', '{t}a', '1', '{t}b'], "-ERR wrong number of arguments for 'mset' command\r\n"],
      [['MSETNX', '{t}a', '1', '{t}b'], "-ERR wrong number of arguments for 'msetnx' command\r\n"],
      [['MSET', 'a', '1', 'a'], "-ERR wrong number of arguments for 'mset' command\r\n"],
      [['MSET', 'a'], "-ERR wrong number of arguments for 'mset' command\r\n"],
    ]);
  });
});
