/**
 * RESP argument edge cases, each answered as redis-server 7 answers it (or as docs/resp.md says
 * distkv differs): SET's expiry options and their conflicts, EXPIRE of 0, INCR at the int64 edge,
 * SCAN / WAIT / SELECT / HELLO / AUTH arguments, pipeline order behind an expiring write, keys at
 * the size limit and values over 256 KiB agreeing with the HTTP API, and RESP3 after HELLO 3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { respOf } from '../helpers/resp.js';
import { exchange as exchangeAt, startRespPair } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** ttlSettled maps a TTL reply of n - 1 to n for each n given: a loaded machine may take over half a second between a SET and its TTL. */
const ttlSettled = (text: string, ...ns: number[]): string =>
  ns.reduce((t, n) => t.replaceAll(`:${n - 1}\r\n`, `:${n}\r\n`), text);

/** exchange sends `commands` to node A's RESP port and returns the replies' text. */
const exchange = (commands: (string | Buffer)[][], n?: number): Promise<string> =>
  exchangeAt(respOf(A), commands, n);

describe('RESP argument edge cases, answered as Redis answers them', () => {
  it('keeps pipeline order behind a conditional or expiring write of the same key', async () => {
    assert.equal(
      await exchange([
        ['SET', 'ord:1', 'v'],
        ['SET', 'ord:1', 'w', 'XX', 'EX', '100'],
        ['GET', 'ord:1'],
        ['SET', 'ord:1', 'z'],
        ['SET', 'ord:2', 'v'],
        ['SET', 'ord:2', 'w', 'KEEPTTL'],
        ['DEL', 'ord:2'],
      ]),
      '+OK\r\n+OK\r\n$1\r\nw\r\n+OK\r\n+OK\r\n+OK\r\n:1\r\n',
    );
    assert.equal(
      await exchange([
        ['GET', 'ord:1'],
        ['TTL', 'ord:1'],
        ['EXISTS', 'ord:2'],
      ]),
      '$1\r\nz\r\n:-1\r\n:0\r\n',
    );
  });

  it('SET: a time already past sets and expires the key at once; bad or repeated expiry options', async () => {
    const text = await exchange([
      ['SET', 'past:1', 'v', 'EXAT', '1'],
      ['GET', 'past:1'],
      ['SET', 'past:2', 'v'],
      ['SET', 'past:2', 'w', 'PXAT', '1', 'NX'],
      ['GET', 'past:2'],
      ['SET', 'past:2', 'w', 'PXAT', '1', 'XX'],
      ['EXISTS', 'past:2'],
      ['SET', 'past:3', 'v', 'EX', 'abc'],
      ['SET', 'past:3', 'v', 'EX'],
      ['SET', 'past:3', 'v', 'EX', '10', 'PX', '100'],
      ['SET', 'past:3', 'v', 'EX', '10', 'EX', '20'],
      ['TTL', 'past:3'],
      ['SET', 'past:3', 'w', 'KEEPTTL'],
      ['TTL', 'past:3'],
      ['GET', 'past:3'],
    ]);
    assert.equal(
      ttlSettled(text, 20),
      '+OK\r\n$-1\r\n+OK\r\n$-1\r\n$1\r\nv\r\n+OK\r\n:0\r\n' +
        '-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n-ERR syntax error\r\n+OK\r\n:20\r\n' +
        '+OK\r\n:20\r\n$1\r\nw\r\n',
    );
  });

  it('EXPIRE / PEXPIRE with a time of 0 or less delete the key; TTL, EXPIRE and PERSIST take keys that are not UTF-8', async () => {
    const bin = Buffer.from([0x74, 0xff, 0x00, 0xfe]);
    const text = await exchange([
      ['SET', 'exp:1', 'v'],
      ['EXPIRE', 'exp:1', '0'],
      ['EXISTS', 'exp:1'],
      ['SET', 'exp:1', 'v'],
      ['PEXPIRE', 'exp:1', '-5'],
      ['GET', 'exp:1'],
      ['PEXPIRE', 'exp:1', '-5'],
      ['SET', bin, 'v', 'EX', '100'],
      ['TTL', bin],
      ['PERSIST', bin],
      ['TTL', bin],
      ['EXPIRE', bin, '50'],
      ['TTL', bin],
    ]);
    assert.equal(
      ttlSettled(text, 100, 50),
      '+OK\r\n:1\r\n:0\r\n+OK\r\n:1\r\n$-1\r\n:0\r\n+OK\r\n:100\r\n:1\r\n:-1\r\n:1\r\n:50\r\n',
    );
  });

  it('INCR / INCRBY refuse what is not a plain int64 and overflow; SCAN, WAIT and SELECT parse as Redis does', async () => {
    assert.equal(
      await exchange([
        ['INCRBY', 'n:1', '+1'],
        ['INCRBY', 'n:1', ' 1'],
        ['INCRBY', 'n:1', '1.0'],
        ['SET', 'n:1', '9223372036854775807'],
        ['INCR', 'n:1'],
        ['SCAN', '0', 'COUNT', '-1'],
        ['SCAN', 'abc'],
        ['WAIT', '1', '-1'],
        ['SELECT', '01'],
        ['SELECT', '-0'],
        ['MGET'],
        // (one slot: keys of two slots get CROSSSLOT first, as in Redis Cluster)
        ['MSET', '{t}a', '1', '{t}b'],
      ]),
      '-ERR value is not an integer or out of range\r\n'.repeat(3) +
        '+OK\r\n-ERR increment or decrement would overflow\r\n-ERR syntax error\r\n-ERR invalid cursor\r\n' +
        '-ERR timeout is negative\r\n' +
        '-ERR value is not an integer or out of range\r\n'.repeat(2) +
        "-ERR wrong number of arguments for 'mget' command\r\n-ERR wrong number of arguments for 'mset' command\r\n",
    );
  });

  it('WAIT for more replicas than exist answers the count there is after the timeout; WAIT 0 0 and WAIT -1 answer at once', async () => {
    // The one replica acknowledges within the 2 s timeout even on a loaded machine; 5 never do.
    assert.equal(
      await exchange([
        ['SET', 'w:1', 'v'],
        ['WAIT', '5', '2000'],
        ['WAIT', '0', '0'],
        ['WAIT', '-1', '0'],
      ]),
      '+OK\r\n:1\r\n:1\r\n:1\r\n',
    );
  });

  it('agrees with HTTP on the key size limit: 1024 bytes are a key, 1025 are refused by both', async () => {
    const at = 'k'.repeat(1024);
    const over = 'k'.repeat(1025);
    assert.equal(
      await exchange([
        ['SET', at, 'v'],
        ['SET', over, 'v'],
        ['GET', over],
      ]),
      '+OK\r\n-ERR invalid key: 1025 bytes; limit is 1024\r\n-ERR invalid key: 1025 bytes; limit is 1024\r\n',
    );
    assert.equal(await (await fetch(`http://${A}/kv/${at}`)).text(), 'v');
    assert.equal((await fetch(`http://${A}/kv/${over}`, { method: 'PUT', body: 'v' })).status, 400);
  });

  it('round-trips values of 0 B to 1 MiB byte-exact between RESP and HTTP, large after small', async () => {
    const sizes = [0, 1, 100, 256 * 1024 - 1, 256 * 1024 + 1, 700 * 1024, 1024 * 1024];
    for (const [i, size] of sizes.entries()) {
      const value = Buffer.alloc(size);
      for (let j = 0; j < size; j++) value[j] = (j * 31 + i) & 0xff;
      assert.equal(await exchange([['SET', `rt:${i}`, value]]), '+OK\r\n');
      assert.deepEqual(
        Buffer.from(await (await fetch(`http://${A}/kv/rt:${i}`)).arrayBuffer()),
        value,
        `${size} B`,
      );
      const back = Buffer.from(value).reverse();
      assert.equal((await fetch(`http://${A}/kv/rt:${i}`, { method: 'PUT', body: back })).status, 204);
      assert.equal(
        await exchange([['GET', `rt:${i}`]]),
        `$${size}\r\n${back.toString('latin1')}\r\n`,
        `${size} B`,
      );
    }
    assert.equal(
      await exchange([['SET', 'rt:over', Buffer.alloc(1024 * 1024 + 1)]]),
      '-ERR value is 1048577 bytes; limit is 1048576\r\n',
    );
  });

  it('HELLO, CLIENT SETNAME and AUTH check their arguments as Redis does', async () => {
    assert.equal(
      await exchange([
        ['HELLO', 'x'],
        ['HELLO', '4'],
        ['HELLO', '3', 'SETNAME', 'a b'],
        ['CLIENT', 'SETNAME', 'a\u00e9'],
        ['AUTH', 'a', 'b', 'c'],
        ['AUTH', 'x'],
        ['PING'],
      ]),
      '-ERR Protocol version is not an integer or out of range\r\n-NOPROTO unsupported protocol version\r\n' +
        '-ERR Client names cannot contain spaces, newlines or special characters.\r\n'.repeat(2) +
        '-ERR syntax error\r\n' +
        '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n' +
        '+PONG\r\n',
    );
  });

  it('speaks RESP3 after HELLO 3: maps, nulls, and RESP2 again after HELLO 2', async () => {
    const text = await exchange([
      ['HELLO', '3'],
      ['GET', 'r3:missing'],
      ['MGET', 'r3:missing', 'r3:missing'],
      ['SET', 'r3:missing', 'v', 'XX'],
      ['CONFIG', 'GET', 'save'],
      ['HELLO', '2'],
      ['GET', 'r3:missing'],
    ]);
    assert.match(text, /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
    const afterHello3 = text.slice(text.indexOf('$7\r\nmodules\r\n*0\r\n') + 17);
    assert.ok(
      afterHello3.startsWith('_\r\n*2\r\n_\r\n_\r\n_\r\n%1\r\n$4\r\nsave\r\n$0\r\n\r\n*14\r\n'),
      JSON.stringify(afterHello3),
    );
    assert.ok(text.endsWith('$7\r\nmodules\r\n*0\r\n$-1\r\n'), JSON.stringify(text));
  });
});
