/**
 * RESET (src/resp/commands-connection.ts), as redis-server 7.0 answers it: `+RESET`, and the
 * connection's state back to a new connection's for the state a distkv connection has: a MULTI
 * discarded (RESET runs inside one instead of being refused), READWRITE, CLIENT REPLY ON (its own
 * `+RESET` written), RESP2 after HELLO 3, no client name, and not authenticated while a token is
 * set. Client pools (redis-py, Jedis, go-redis) send it before they hand a connection on; it was an
 * unknown command. Right after CLIENT REPLY SKIP, RESET's own reply is muted as redis-server 7.0
 * mutes it (`CLIENT REPLY SKIP`, `RESET`, `PING` answer `+PONG` alone, checked against
 * redis-server 7.0.15): distkv answered `+RESET`, `+PONG`, one reply off from then on. Over
 * loopback, with a RespListener on a fake worker pool.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import type { RespListener } from '../../src/resp/resp-listener.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_VALUE } from '../../src/worker/op-format.js';
import { encode, splitReplies, Wire } from '../e2e/resp-wire.js';
import { freePort } from '../helpers/ports.js';
import { ONE_SHARD_NODE, oneShardListener } from '../helpers/resp-one-shard.js';

const pool = {
  inFlight: 0,
  submit(_w: number, _op: number, _s: number, _k: Uint8Array, _v: unknown, handler: OpHandler): void {
    setImmediate(() => {
      handler.onReply(ST_VALUE, 0, Buffer.from('v'));
    });
  },
  lastSeq: () => 0,
};

/** talk sends `commands` on a new connection to `l` and returns `n` replies. */
async function talk(l: RespListener, commands: string[][], n: number): Promise<string[]> {
  const w = await Wire.open(l.endpoint);
  try {
    w.socket.write(Buffer.concat(commands.map((c) => encode(c))));
    return splitReplies(await w.replies(n, 10_000));
  } finally {
    w.close();
  }
}

async function withListener(
  extra: Record<string, unknown>,
  f: (l: RespListener) => Promise<void>,
): Promise<void> {
  const l = oneShardListener(pool, await freePort(), extra);
  await l.listen();
  try {
    await f(l);
  } finally {
    l.close();
  }
}

describe('RESET', () => {
  it('answers +RESET and takes back the name, READONLY, HELLO 3 and a MULTI', async () => {
    await withListener({}, async (l) => {
      const replies = await talk(
        l,
        [
          ['CLIENT', 'SETNAME', 'pooled'],
          ['READONLY'],
          ['HELLO', '3'],
          ['MULTI'],
          ['RESET'],
          ['CLIENT', 'GETNAME'],
          ['CLIENT', 'INFO'],
          ['EXEC'],
          ['GET', 'k'],
          ['reset'],
          ['RESET', 'extra'],
        ],
        11,
      );
      assert.equal(replies[4], '+RESET\r\n', 'inside MULTI RESET runs, as in Redis');
      assert.equal(replies[5], '$-1\r\n', 'no name (RESP2 nil: the protocol is back to 2)');
      assert.match(replies[6]!, / name= /);
      assert.match(replies[6]!, / flags=N /, 'READONLY taken back (flag r gone)');
      assert.match(replies[6]!, / multi=-1 /);
      assert.match(replies[6]!, / resp=2\n/);
      assert.equal(replies[7], '-ERR EXEC without MULTI\r\n', 'the transaction was discarded');
      assert.equal(replies[8], '$1\r\nv\r\n');
      assert.equal(replies[9], '+RESET\r\n');
      assert.equal(replies[10], "-ERR wrong number of arguments for 'reset' command\r\n");
    });
  });

  it('writes replies again after CLIENT REPLY OFF, its own +RESET first', async () => {
    await withListener({}, async (l) => {
      const replies = await talk(l, [['CLIENT', 'REPLY', 'OFF'], ['PING'], ['RESET'], ['PING']], 2);
      assert.deepEqual(replies, ['+RESET\r\n', '+PONG\r\n']);
    });
  });

  it('asks for AUTH again while a token is set, and runs before AUTH', async () => {
    const config = validateConfig(
      { server: { token: 'secret' }, shards: [{ name: 'shard-0', idx: 0, address: ONE_SHARD_NODE }] },
      '<test>',
    );
    await withListener({ config }, async (l) => {
      const replies = await talk(
        l,
        [
          ['RESET'],
          ['AUTH', 'secret'],
          ['GET', 'k'],
          ['RESET'],
          ['GET', 'k'],
          ['AUTH', 'default', 'secret'],
          ['GET', 'k'],
        ],
        7,
      );
      assert.deepEqual(replies, [
        '+RESET\r\n',
        '+OK\r\n',
        '$1\r\nv\r\n',
        '+RESET\r\n',
        '-NOAUTH Authentication required.\r\n',
        '+OK\r\n',
        '$1\r\nv\r\n',
      ]);
    });
  });

  it('is described as redis-server 7.0 describes it in COMMAND INFO', async () => {
    await withListener({}, async (l) => {
      const [reply] = await talk(l, [['COMMAND', 'INFO', 'reset']], 1);
      assert.match(reply!, /\$5\r\nreset\r\n:1\r\n/);
      for (const flag of ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'])
        assert.ok(reply!.includes(`+${flag}\r\n`), `flag ${flag}: ${JSON.stringify(reply)}`);
      assert.ok(reply!.includes('+@fast\r\n+@connection\r\n'), JSON.stringify(reply));
    });
  });
});

describe('RESET after CLIENT REPLY SKIP', () => {
  it('is muted, as the command after CLIENT REPLY SKIP (redis-server 7.0)', async () => {
    await withListener({}, async (l) => {
      const replies = await talk(l, [['CLIENT', 'REPLY', 'SKIP'], ['RESET'], ['PING'], ['ECHO', 'last']], 2);
      assert.deepEqual(replies, ['+PONG\r\n', '$4\r\nlast\r\n']);
    });
  });

  it('after CLIENT REPLY OFF writes +RESET and replies again (redis-server 7.0)', async () => {
    await withListener({}, async (l) => {
      const replies = await talk(l, [['CLIENT', 'REPLY', 'OFF'], ['PING'], ['RESET'], ['PING']], 2);
      assert.deepEqual(replies, ['+RESET\r\n', '+PONG\r\n']);
    });
  });

  it('after CLIENT REPLY OFF and SKIP writes +RESET (the SKIP under OFF mutes nothing more)', async () => {
    await withListener({}, async (l) => {
      const replies = await talk(
        l,
        [['CLIENT', 'REPLY', 'OFF'], ['CLIENT', 'REPLY', 'SKIP'], ['RESET'], ['PING']],
        2,
      );
      assert.deepEqual(replies, ['+RESET\r\n', '+PONG\r\n']);
    });
  });
});
