/**
 * MULTI/EXEC against the RESP listener: distkv has no transactions, so a transaction a client
 * sends must apply none of its commands. Before, MULTI and EXEC were unknown commands and the
 * commands between them ran one by one: ioredis's `multi().exec()` rejected with EXEC's error
 * while its writes had been applied, and a caller retrying the failed transaction applied them
 * twice. Now MULTI opens a transaction whose every command is refused, and EXEC discards it with
 * Redis's EXECABORT, as Redis does with a transaction holding a command refused when queued.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { respOf } from '../helpers/resp.js';
import { exchange as exchangeAt, startRespPair } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

const exchange = (commands: (string | Buffer)[][], n?: number): Promise<string> =>
  exchangeAt(respOf(A), commands, n);

describe('RESP MULTI/EXEC (not supported)', () => {
  it('applies none of the commands of a transaction and discards it at EXEC with EXECABORT', async () => {
    const replies = await exchange([
      ['SET', 'm:a', '100'],
      ['MULTI'],
      ['DECRBY', 'm:a', '30'],
      ['set', 'm:b', '30'],
      ['EXEC'],
      ['GET', 'm:a'],
      ['EXISTS', 'm:b'],
    ]);
    const lines = replies.split('\r\n');
    assert.equal(lines[0], '+OK');
    assert.equal(lines[1], '+OK', 'MULTI is answered as Redis answers it');
    assert.match(lines[2]!, /^-ERR MULTI is not supported by distkv: DECRBY not executed/);
    assert.match(lines[3]!, /^-ERR MULTI is not supported by distkv: SET not executed/);
    assert.equal(lines[4], '-EXECABORT Transaction discarded because of previous errors.');
    assert.deepEqual(lines.slice(5), ['$3', '100', ':0', ''], 'nothing of the transaction was applied');
  });

  it('leaves the transaction at DISCARD, answers an empty EXEC, and keeps the errors of EXEC or DISCARD alone', async () => {
    const replies = await exchange([
      ['EXEC'],
      ['DISCARD'],
      ['MULTI'],
      ['MULTI'],
      ['SET', 'm:c', '1'],
      ['DISCARD'],
      ['MULTI'],
      ['EXEC'],
      ['SET', 'm:c', '2'],
      ['GET', 'm:c'],
      ['MULTI', 'x'],
    ]);
    assert.deepEqual(replies.split('\r\n').slice(0, 2), [
      '-ERR EXEC without MULTI',
      '-ERR DISCARD without MULTI',
    ]);
    const rest = replies.split('\r\n').slice(2);
    assert.equal(rest[0], '+OK');
    assert.equal(rest[1], '-ERR MULTI calls can not be nested');
    assert.match(rest[2]!, /^-ERR MULTI is not supported by distkv: SET not executed/);
    assert.deepEqual(rest.slice(3), [
      '+OK',
      '+OK',
      '*0',
      '+OK',
      '$1',
      '2',
      "-ERR wrong number of arguments for 'multi' command",
      '',
    ]);
  });

  it('makes ioredis multi().exec() reject with nothing applied, so a retry cannot apply it twice', async () => {
    const redis = new Redis({ host: respOf(A).host, port: respOf(A).port, lazyConnect: true });
    try {
      await redis.connect();
      await redis.set('{acct}a', '100');
      await redis.set('{acct}b', '0');
      await assert.rejects(redis.multi().decrby('{acct}a', 30).incrby('{acct}b', 30).exec(), /EXECABORT/);
      assert.deepEqual(await redis.mget('{acct}a', '{acct}b'), ['100', '0']);
      // The connection is out of the transaction: the next command runs.
      assert.equal(await redis.incrby('{acct}b', 30), 30);
    } finally {
      redis.disconnect();
    }
  });
});
