/**
 * CLIENT KILL, CLIENT PAUSE / UNPAUSE and the tracking subcommands over raw RESP connections
 * (docs/resp.md): a killed connection sees its socket close, a paused writer's commands are
 * answered only after UNPAUSE or the timeout and in order, a pause holds this node's RESP
 * connections only (not HTTP, not the other node of the process), and the malformed forms, with
 * COMMAND INFO of CLIENT's subcommands, are answered byte for byte as redis-server 7.0 answers
 * them. Before, every one of these was `-ERR unknown subcommand`. One process hosts node A (leader
 * of both shards) and node B (their replica); the tests run in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RespConn } from '../helpers/resp-conn.js';
import { respOf } from '../helpers/resp.js';
import { TestRedis } from '../helpers/redis-server.js';
import { exchange, splitReplies, startRespPair, Wire, encode } from './resp-wire.js';

let A = '';
let B = '';
let stop = (): Promise<void> => Promise.resolve();
let redis: TestRedis | undefined;
const opened: Wire[] = [];

before(async () => {
  ({ A, B, stop } = await startRespPair());
  redis = await TestRedis.start();
});

after(async () => {
  for (const w of opened) w.close();
  await redis?.stop();
  await stop();
});

/** open connects to node `at`'s RESP port (closed after the tests). */
async function open(at = A): Promise<Wire> {
  const w = await Wire.open(respOf(at));
  opened.push(w);
  return w;
}

/** ask sends `commands` on `w` and returns their replies (at most 30 s). */
async function ask(w: Wire, ...commands: string[][]): Promise<string[]> {
  const had = splitReplies(w.received.toString('latin1')).length;
  w.socket.write(Buffer.concat(commands.map(encode)));
  return splitReplies(await w.replies(had + commands.length, 30000)).slice(had);
}

/** count is how many complete replies `w` has received. */
const count = (w: Wire): number => splitReplies(w.received.toString('latin1')).length;

/** idOf is the CLIENT ID of `w`. */
async function idOf(w: Wire): Promise<string> {
  const [r] = await ask(w, ['CLIENT', 'ID']);
  return /^:(\d+)\r\n$/.exec(r!)![1]!;
}

/** fieldOf reads a field of `w`'s CLIENT INFO line (`addr`, `laddr`, `age`). */
async function fieldOf(w: Wire, field: string): Promise<string> {
  const [r] = await ask(w, ['CLIENT', 'INFO']);
  return new RegExp(` ${field}=(\\S+)`).exec(r!)![1]!;
}

/** blocked reads INFO clients' blocked_clients of node A, on a connection of its own. */
async function blocked(): Promise<number> {
  const text = await exchange(respOf(A), [['INFO', 'clients']]);
  return Number(/blocked_clients:(\d+)/.exec(text)![1]);
}

/** waitFor polls `cond` (every 20 ms, at most `ms`) until it holds; fails naming `what`. */
async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 30000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `still waiting after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('CLIENT KILL', () => {
  it('closes another connection at once: the filter form answers the count, the old form OK, a second kill of it finds none', async () => {
    const x = await open();
    const y = await open();
    const z = await open();
    const w = await open();
    const yid = await idOf(y);
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ID', yid]), [':1\r\n']);
    assert.ok(await y.closedWithin(10000), 'the killed connection sees its socket close');
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ID', yid]), [':0\r\n']);
    // Twice in one pipeline: the connection closed by the first is not counted by the second.
    const zid = await idOf(z);
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ID', zid], ['CLIENT', 'KILL', 'ID', zid]), [
      ':1\r\n',
      ':0\r\n',
    ]);
    assert.ok(await z.closedWithin(10000));
    const addr = await fieldOf(w, 'addr');
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', addr]), ['+OK\r\n']);
    assert.ok(await w.closedWithin(10000));
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', addr]), ['-ERR No such client\r\n']);
    assert.deepEqual(await ask(x, ['PING']), ['+PONG\r\n'], 'the killer is untouched');
  });

  it('kills its sender only with SKIPME no or the old form, after its reply, and runs nothing sent after it', async () => {
    const x = await open();
    const y = await open();
    const yid = await idOf(y);
    assert.deepEqual(await ask(y, ['CLIENT', 'KILL', 'ID', yid]), [':0\r\n'], 'SKIPME yes is the default');
    y.socket.write(
      Buffer.concat(
        [
          ['SET', 'kill:self', 'before'],
          ['CLIENT', 'KILL', 'ID', yid, 'SKIPME', 'no'],
          ['SET', 'kill:self', 'after'],
        ].map(encode),
      ),
    );
    assert.ok(await y.closedWithin(10000));
    assert.deepEqual(splitReplies(y.received.toString('latin1')), [
      ':' + yid + '\r\n',
      ':0\r\n',
      '+OK\r\n',
      ':1\r\n',
    ]);
    assert.deepEqual(await ask(x, ['GET', 'kill:self']), ['$6\r\nbefore\r\n']);
    const v = await open();
    const addr = await fieldOf(v, 'addr');
    v.socket.write(Buffer.concat([encode(['CLIENT', 'KILL', addr]), encode(['SET', 'kill:self', 'after'])]));
    assert.ok(await v.closedWithin(10000));
    assert.equal(splitReplies(v.received.toString('latin1')).at(-1), '+OK\r\n');
    assert.deepEqual(await ask(x, ['GET', 'kill:self']), ['$6\r\nbefore\r\n']);
  });

  it('kills only connections every filter matches: ADDR, LADDR, TYPE, USER, MAXAGE', async () => {
    const x = await open();
    const y = await open();
    const addr = await fieldOf(y, 'addr');
    const laddr = await fieldOf(y, 'laddr');
    const { host, port } = respOf(A);
    assert.equal(laddr, `${host}:${port}`, "the listener's address, as CLIENT LIST shows it");
    for (const miss of [
      ['TYPE', 'master'],
      ['TYPE', 'pubsub'],
      ['LADDR', '1.2.3.4:5'],
      ['MAXAGE', '100000'],
    ])
      assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ADDR', addr, ...miss]), [':0\r\n'], miss.join(' '));
    assert.deepEqual(
      await ask(x, ['CLIENT', 'KILL', 'ADDR', addr, 'LADDR', laddr, 'TYPE', 'normal', 'USER', 'default']),
      [':1\r\n'],
    );
    assert.ok(await y.closedWithin(10000));
    // MAXAGE s: connections open for more than s seconds (CLIENT LIST's age).
    const old = await open();
    const oldAddr = await fieldOf(old, 'addr');
    await waitFor('a connection 2 s old', async () => Number(await fieldOf(old, 'age')) >= 2);
    const young = await open();
    const youngAddr = await fieldOf(young, 'addr');
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'MAXAGE', '1', 'ADDR', youngAddr]), [':0\r\n']);
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'MAXAGE', '1', 'ADDR', oldAddr]), [':1\r\n']);
    assert.ok(await old.closedWithin(10000));
  });

  it("reaches only its own node's connections: a connection of node B in the same process is not killed from A", async () => {
    const x = await open();
    const b = await open(B);
    const bid = await idOf(b);
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ID', bid]), [':0\r\n']);
    assert.deepEqual(await ask(b, ['PING']), ['+PONG\r\n']);
  });
});

describe('CLIENT PAUSE', () => {
  it("WRITE holds a connection's write and all after it, reads and HTTP writes go on, node B is not paused; UNPAUSE answers them in order", async () => {
    const x = await open();
    const y = await open();
    const z = await open();
    const yid = await idOf(y);
    assert.deepEqual(await ask(z, ['SET', 'pause:k', 'old']), ['+OK\r\n']);
    assert.deepEqual(await ask(x, ['CLIENT', 'PAUSE', '600000', 'WRITE']), ['+OK\r\n']);
    y.socket.write(
      Buffer.concat(
        [
          ['GET', 'pause:k'],
          ['SET', 'pause:k', 'new'],
          ['GET', 'pause:k'],
          ['INCR', 'pause:n'],
          ['PING'],
        ].map(encode),
      ),
    );
    assert.deepEqual(
      splitReplies(await y.replies(2)).slice(1),
      ['$3\r\nold\r\n'],
      'the read before the write is answered',
    );
    await waitFor('the SET held (blocked_clients 1)', async () => (await blocked()) === 1);
    assert.deepEqual(await ask(z, ['GET', 'pause:k']), ['$3\r\nold\r\n'], 'the held SET has not run');
    assert.match((await ask(z, ['CLIENT', 'LIST', 'ID', yid]))[0]!, / flags=b .* cmd=set /);
    const put = await fetch(`http://${A}/kv/pause:http`, { method: 'PUT', body: 'h' });
    assert.ok(put.ok, `HTTP writes are not held: ${put.status}`);
    assert.deepEqual(await ask(z, ['GET', 'pause:http']), ['$1\r\nh\r\n']);
    const b = await open(B);
    // B serves the key too (its leader runs in this process): a pause of A does not hold B's writes.
    assert.deepEqual(await ask(b, ['SET', 'pause:b', 'b']), ['+OK\r\n'], "node B's listener is not paused");
    assert.equal(count(y), 2, 'nothing after the held SET was answered (CLIENT ID, GET)');
    assert.deepEqual(await ask(x, ['CLIENT', 'UNPAUSE']), ['+OK\r\n']);
    assert.deepEqual(splitReplies(await y.replies(6)).slice(1), [
      '$3\r\nold\r\n',
      '+OK\r\n',
      '$3\r\nnew\r\n',
      ':1\r\n',
      '+PONG\r\n',
    ]);
    assert.equal(await blocked(), 0);
  });

  it('ALL holds every command but QUIT until its timeout, CLIENT UNPAUSE too; unknown commands and wrong arity are answered at once', async () => {
    const PAUSE_MS = 4000;
    const x = await open();
    const y = await open();
    const u = await open();
    const e = await open();
    const q = await open();
    // Read before the PAUSE is sent: the pause began after this and before its +OK arrived. Read
    // after the +OK, a test process late to run by 20 ms saw the held PING answered "early".
    const paused = Date.now();
    assert.deepEqual(await ask(x, ['CLIENT', 'PAUSE', String(PAUSE_MS)]), ['+OK\r\n']);
    y.socket.write(encode(['PING']));
    u.socket.write(encode(['CLIENT', 'UNPAUSE']));
    assert.deepEqual(await ask(e, ['NOSUCH'], ['GET']), [
      "-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
      "-ERR wrong number of arguments for 'get' command\r\n",
    ]);
    assert.deepEqual(await ask(q, ['QUIT']), ['+OK\r\n']);
    assert.ok(await q.closedWithin(10000));
    const early = Date.now() - paused;
    assert.deepEqual(splitReplies(await y.replies(1)), ['+PONG\r\n']);
    const waited = Date.now() - paused;
    assert.deepEqual(splitReplies(await u.replies(1)), ['+OK\r\n']);
    assert.ok(waited >= PAUSE_MS - 20, `PING answered ${waited} ms after the pause, before its end`);
    assert.ok(early < PAUSE_MS || count(y) === 0, 'the errors and QUIT came before the pause ended');
  });

  it('runs a held GET and SET with their own arguments, whatever other connections sent meanwhile', async () => {
    // A held GET or SET kept views of the listener's shared read buffer (GET and SET skip the copy
    // other commands get, being done with their arguments as they run): the next read on any
    // connection overwrote them, and when the pause ended the SET wrote another connection's bytes
    // under a key made of them, and the GET answered another key's value.
    const x = await open();
    const y = await open();
    const g = await open();
    const o = await open();
    const e = await open();
    assert.deepEqual(
      await ask(o, ['SET', 'pause:alice', 'alice-secret'], ['SET', 'pause:bobby', 'bobby-secret']),
      ['+OK\r\n', '+OK\r\n'],
    );
    assert.deepEqual(await ask(x, ['CLIENT', 'PAUSE', '1500', 'ALL']), ['+OK\r\n']);
    y.socket.write(encode(['SET', 'pause:victim', 'hello']));
    g.socket.write(encode(['GET', 'pause:alice']));
    await new Promise((r) => setTimeout(r, 200));
    // Other connections' commands, longer than the held ones, read (and held too) meanwhile.
    o.socket.write(encode(['GET', 'pause:bobby']));
    e.socket.write(encode(['ECHO', 'Z'.repeat(200)]));
    assert.deepEqual(splitReplies(await y.replies(1)), ['+OK\r\n']);
    assert.deepEqual(
      splitReplies(await g.replies(1)),
      ['$12\r\nalice-secret\r\n'],
      'the held GET answers its own key',
    );
    assert.deepEqual(splitReplies(await o.replies(3)).slice(2), ['$12\r\nbobby-secret\r\n']);
    assert.deepEqual(splitReplies(await e.replies(1)), [`$200\r\n${'Z'.repeat(200)}\r\n`]);
    assert.deepEqual(
      await ask(x, ['GET', 'pause:victim']),
      ['$5\r\nhello\r\n'],
      'the held SET wrote its own key',
    );
  });

  it('never runs the held command of a connection that hangs up or is killed', async () => {
    const x = await open();
    const y = await open();
    const k = await open();
    const kid = await idOf(k);
    assert.deepEqual(await ask(x, ['CLIENT', 'PAUSE', '600000', 'WRITE']), ['+OK\r\n']);
    y.socket.write(encode(['SET', 'pause:gone', 'y']));
    k.socket.write(encode(['SET', 'pause:gone', 'k']));
    await waitFor('two SETs held', async () => (await blocked()) === 2);
    y.socket.end();
    assert.ok(await y.closedWithin(10000), 'the half-closed connection is closed by the node');
    await waitFor('one SET held', async () => (await blocked()) === 1);
    assert.deepEqual(await ask(x, ['CLIENT', 'KILL', 'ID', kid]), [':1\r\n']);
    assert.ok(await k.closedWithin(10000));
    await waitFor('no SET held', async () => (await blocked()) === 0);
    assert.deepEqual(await ask(x, ['CLIENT', 'UNPAUSE'], ['GET', 'pause:gone']), ['+OK\r\n', '$-1\r\n']);
  });

  it('refuses a timeout whose end passes 2^63-1 ms, which Redis 7.0 overflows into no pause', async () => {
    const x = await open();
    assert.deepEqual(
      await ask(x, ['CLIENT', 'PAUSE', '9223372036854775807', 'WRITE'], ['SET', 'pause:big', '1']),
      ['-ERR timeout is out of range\r\n', '+OK\r\n'],
    );
  });
});

describe('CLIENT UNBLOCK', () => {
  it('ends a WAIT at once: with the replicas holding the write so far, or with ERROR the UNBLOCKED error; 0 for a connection not in WAIT', async () => {
    const x = await open();
    const y = await open();
    const xid = await idOf(x);
    assert.deepEqual(await ask(x, ['SET', 'unblock:k', 'v']), ['+OK\r\n']);
    // Node B, the one replica, holds the write: a WAIT for two then waits for good.
    assert.deepEqual(await ask(x, ['WAIT', '1', '0']), [':1\r\n']);
    assert.deepEqual(await ask(y, ['CLIENT', 'UNBLOCK', xid]), [':0\r\n'], 'not blocked yet');
    for (const [reason, answer] of [
      [[], ':1\r\n'],
      [['TIMEOUT'], ':1\r\n'],
      [['error'], '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n'],
    ] as const) {
      const had = count(x);
      x.socket.write(encode(['WAIT', '2', '0']));
      await waitFor('the WAIT blocked', async () => (await blocked()) === 1);
      assert.equal(count(x), had, 'the WAIT waits');
      assert.deepEqual(await ask(y, ['CLIENT', 'UNBLOCK', xid, ...reason]), [':1\r\n']);
      assert.deepEqual(splitReplies(await x.replies(had + 1, 30000)).slice(had), [answer]);
      assert.equal(await blocked(), 0);
    }
    assert.deepEqual(await ask(y, ['CLIENT', 'UNBLOCK', xid, 'ERROR']), [':0\r\n'], 'no longer blocked');
    assert.deepEqual(await ask(x, ['PING']), ['+PONG\r\n']);
  });

  it('leaves a command held by CLIENT PAUSE held (0): it runs at UNPAUSE', async () => {
    const x = await open();
    const y = await open();
    const xid = await idOf(x);
    assert.deepEqual(await ask(y, ['CLIENT', 'PAUSE', '600000', 'WRITE']), ['+OK\r\n']);
    x.socket.write(encode(['SET', 'unblock:held', 'v']));
    await waitFor('the SET held (blocked_clients 1)', async () => (await blocked()) === 1);
    assert.deepEqual(await ask(y, ['CLIENT', 'UNBLOCK', xid]), [':0\r\n']);
    assert.deepEqual(await ask(y, ['CLIENT', 'UNBLOCK', xid, 'ERROR']), [':0\r\n']);
    assert.equal(count(x), 1, 'the held SET is still held (only CLIENT ID answered)');
    assert.deepEqual(await ask(y, ['CLIENT', 'UNPAUSE']), ['+OK\r\n']);
    assert.deepEqual(splitReplies(await x.replies(2, 30000)).slice(1), ['+OK\r\n']);
  });
});

/** SAME_AS_REDIS are CLIENT commands whose replies must be redis-server 7.0's, byte for byte. */
const SAME_AS_REDIS: string[][] = [
  ['CLIENT', 'KILL'],
  ['CLIENT', 'KILL', '1.2.3.4:5'],
  ['CLIENT', 'KILL', 'ID'],
  ['CLIENT', 'KILL', 'ID', '0'],
  ['CLIENT', 'KILL', 'ID', '-1'],
  ['CLIENT', 'KILL', 'ID', 'abc'],
  ['CLIENT', 'KILL', 'ID', '9223372036854775808'],
  ['CLIENT', 'KILL', 'ID', '999999999'],
  ['CLIENT', 'KILL', 'ID', '999999999', 'TYPE'],
  ['CLIENT', 'KILL', 'TYPE', 'foo\xff'],
  ['CLIENT', 'KILL', 'TYPE', 'MASTER', 'SKIPME', 'no'],
  ['CLIENT', 'KILL', 'USER', 'nobody'],
  ['CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'maybe'],
  ['CLIENT', 'KILL', 'MAXAGE'],
  ['CLIENT', 'KILL', 'FOO', 'bar'],
  ['CLIENT', 'KILL', 'FOO', 'bar', 'ID', '0'],
  ['CLIENT', 'KILL', 'ID', '0', 'FOO'],
  ['CLIENT', 'KILL', 'ADDR', '1.2.3.4:5', 'LADDR', '1.2.3.4:6'],
  ['CLIENT', 'PAUSE'],
  ['CLIENT', 'PAUSE', 'abc'],
  ['CLIENT', 'PAUSE', '-1'],
  ['CLIENT', 'PAUSE', '1.5'],
  ['CLIENT', 'PAUSE', '10', 'foo'],
  ['CLIENT', 'PAUSE', 'abc', 'foo'],
  ['CLIENT', 'PAUSE', '10', 'write', 'extra'],
  ['CLIENT', 'PAUSE', '0', 'WRITE'],
  ['CLIENT', 'UNPAUSE'],
  ['CLIENT', 'UNPAUSE', 'x'],
  ['CLIENT', 'UNBLOCK'],
  ['CLIENT', 'UNBLOCK', 'abc'],
  ['CLIENT', 'UNBLOCK', 'abc', 'foo'],
  ['CLIENT', 'UNBLOCK', '1.5'],
  ['CLIENT', 'UNBLOCK', '99999999999999999999'],
  ['CLIENT', 'UNBLOCK', '99999'],
  ['CLIENT', 'UNBLOCK', '-1', 'timeout'],
  ['CLIENT', 'UNBLOCK', '99999', 'ERROR'],
  ['CLIENT', 'UNBLOCK', '99999', 'bad'],
  ['CLIENT', 'UNBLOCK', '1', '2', '3'],
  ['CLIENT', 'NO-EVICT', 'on'],
  ['CLIENT', 'NO-EVICT', 'maybe'],
  ['CLIENT', 'TRACKING'],
  ['CLIENT', 'TRACKING', 'off'],
  ['CLIENT', 'TRACKING', 'maybe'],
  ['CLIENT', 'TRACKING', 'off', 'BCAST', 'PREFIX', 'a', 'NOLOOP'],
  ['CLIENT', 'TRACKING', 'off', 'foo'],
  ['CLIENT', 'TRACKING', 'off', 'REDIRECT', '999999999'],
  ['CLIENT', 'TRACKING', 'off', 'REDIRECT', 'x'],
  ['CLIENT', 'CACHING', 'yes'],
  ['CLIENT', 'CACHING'],
  ['CLIENT', 'GETREDIR'],
  ['CLIENT', 'GETREDIR', 'x'],
  ['CLIENT', 'TRACKINGINFO'],
  [
    'COMMAND',
    'INFO',
    ...['caching', 'getname', 'getredir', 'help', 'id', 'info', 'kill', 'list', 'no-evict', 'pause'].map(
      (s) => `client|${s}`,
    ),
    ...['reply', 'setname', 'tracking', 'trackinginfo', 'unblock', 'unpause'].map((s) => `client|${s}`),
    'CLIENT|KILL',
    'client|nosuch',
  ],
];

describe('CLIENT against redis-server 7.0', () => {
  for (const proto of ['2', '3']) {
    it(`answers the malformed KILL and PAUSE forms, the tracking subcommands and COMMAND INFO client|... as redis-server does (RESP${proto})`, async () => {
      const r = await RespConn.open({ host: '127.0.0.1', port: redis!.port });
      const d = await RespConn.open(respOf(A));
      try {
        const commands = [['HELLO', proto], ...SAME_AS_REDIS];
        const [fromRedis, fromDistkv] = await Promise.all([r.send(commands), d.send(commands)]);
        for (let i = 1; i < commands.length; i++)
          assert.equal(fromDistkv[i], fromRedis[i], JSON.stringify(commands[i]));
      } finally {
        r.close();
        d.close();
      }
    });
  }
});
