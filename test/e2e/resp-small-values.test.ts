/**
 * The RESP writes that compute their value on the worker keep to `max_value_bytes` like SET: on a
 * node whose limit (4 bytes) is under the longest 64-bit integer (20 bytes), INCR, INCRBY, DECR
 * and DECRBY refuse a result over it with SET's error and write nothing (they wrote it), as
 * INCRBYFLOAT does; APPEND and SETRANGE refuse it in Redis's proto-max-bulk-len words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RespConn } from '../helpers/resp-conn.js';
import { respOf } from '../helpers/resp.js';
import { startOneNode } from '../helpers/server-process.js';

let conn: RespConn | undefined;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  const node = await startOneNode('[server]\nmax_value_bytes = 4\n', ['--workers', '1']);
  stop = node.stop;
  conn = await RespConn.open(respOf(node.address));
});

after(async () => {
  conn?.close();
  await stop();
});

const OVER = (n: number): string => `-ERR value is ${n} bytes; limit is 4\r\n`;

describe('a node with max_value_bytes under 20', () => {
  it('refuses an INCR, INCRBY, DECR or DECRBY whose result is over the limit, writing nothing', async () => {
    const replies = await conn!.send([
      ['SET', 'n', '9999'],
      ['INCR', 'n'],
      ['INCRBY', 'n', '1'],
      ['GET', 'n'],
      ['SET', 'm', '-999'],
      ['DECR', 'm'],
      ['DECRBY', 'm', '1'],
      ['GET', 'm'],
      ['INCRBY', 'fresh', '123456'],
      ['EXISTS', 'fresh'],
      ['INCRBY', 'n', '-9990'],
      ['DECRBY', 'm', '-1000'],
      ['INCRBYFLOAT', 'n', '0.125'],
      ['GET', 'n'],
    ]);
    assert.deepEqual(replies, [
      '+OK\r\n',
      OVER(5),
      OVER(5),
      '$4\r\n9999\r\n',
      '+OK\r\n',
      OVER(5),
      OVER(5),
      '$4\r\n-999\r\n',
      OVER(6),
      ':0\r\n',
      ':9\r\n',
      ':1\r\n',
      OVER(5),
      '$1\r\n9\r\n',
    ]);
  });

  it('refuses an APPEND or SETRANGE over it in Redis words, and a SET over it', async () => {
    const replies = await conn!.send([
      ['SET', 'a', 'abc'],
      ['APPEND', 'a', 'de'],
      ['SETRANGE', 'a', '3', 'xy'],
      ['SET', 'a', 'abcde'],
      ['GET', 'a'],
    ]);
    const TOO_LONG = '-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n';
    assert.deepEqual(replies, ['+OK\r\n', TOO_LONG, TOO_LONG, OVER(5), '$3\r\nabc\r\n']);
  });
});
