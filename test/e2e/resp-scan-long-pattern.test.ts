/**
 * SCAN and KEYS with a MATCH pattern whose literal prefix is longer than any key can be. Keys are
 * at most `max_key_bytes` (1024) bytes, so such a pattern matches nothing, and Redis answers it as
 * any pattern that matches nothing: `SCAN` a page of no keys (cursor 0 once the keyspace is read),
 * `KEYS` an empty array. HTTP's scan refuses a prefix over `max_key_bytes` (400 naming the bound).
 * A prefix of up to about 1978 bytes (LMDB's largest key) is answered as Redis answers it; a longer
 * one reaches the store's range read, whose error comes back as `-TRYAGAIN <the store's message>`
 * ("Key of size 2000 was too large, max key size is 1978", "offset is out of bounds"): cluster
 * clients retry TRYAGAIN, and the same command fails the same way every time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { respOf } from '../helpers/resp.js';
import { exchange as exchangeAt, splitReplies, startRespPair } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** exchange sends `commands` to node A's RESP port and returns the replies, one string each. */
const exchange = async (commands: (string | Buffer)[][]): Promise<string[]> =>
  splitReplies(await exchangeAt(respOf(A), commands));

const EMPTY_PAGE = '*2\r\n$1\r\n0\r\n*0\r\n';

describe('SCAN and KEYS with a pattern longer than any key', () => {
  it('answers a 1100-byte literal pattern with an empty page, as Redis does (the bound holds below LMDB’s key size)', async () => {
    const pattern = 'x'.repeat(1100);
    assert.deepEqual(
      await exchange([
        ['SET', 'long-pattern-probe', 'v'],
        ['SCAN', '0', 'MATCH', pattern],
        ['KEYS', `${pattern}*`],
      ]),
      ['+OK\r\n', EMPTY_PAGE, '*0\r\n'],
    );
  });

  for (const bytes of [2000, 5000]) {
    it(`answers SCAN and KEYS with a ${String(bytes)}-byte literal prefix with no keys, not -TRYAGAIN`, async () => {
      const pattern = 'x'.repeat(bytes);
      const replies = await exchange([
        ['SET', 'long-pattern-probe', 'v'],
        ['SCAN', '0', 'MATCH', pattern],
        ['SCAN', '0', 'MATCH', `${pattern}*`],
        ['KEYS', `${pattern}*`],
        ['PING'],
      ]);
      assert.deepEqual(replies, ['+OK\r\n', EMPTY_PAGE, EMPTY_PAGE, '*0\r\n', '+PONG\r\n']);
    });
  }
});
