/**
 * The RESP listener against careless and hostile clients, each expectation checked against what
 * redis-server 7 answers to the same bytes: malformed frames get Redis's protocol error and the
 * connection closes; a million-argument command and a 100,000-command pipeline written in one go
 * are answered; a client that stops reading is not buffered for without bound; argument edge
 * cases (SET options, EXPIRE, SCAN, WAIT, SELECT) get Redis's replies; keys and large values agree
 * with the HTTP API byte for byte; and random valid and invalid streams split at random byte
 * boundaries are answered as a model says.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';

let A = '';
let B = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  ({ stop } = await startOwnServer(
    [0, 1].map(() => ({ address: A, replicas: [B] })),
    '[server]\nmax_value_bytes = 1048576\n',
    ['--workers', '1'],
  ));
});

after(() => stop());

/** replyEnd returns where the RESP2/RESP3 reply at `p` ends, or -1 when it has not all arrived. */
function replyEnd(b: Buffer, p: number): number {
  const cr = b.indexOf('\r\n', p);
  if (cr < 0) return -1;
  const type = String.fromCharCode(b[p]!);
  const n = Number(b.toString('latin1', p + 1, cr));
  let at = cr + 2;
  if ((type === '$' || type === '=' || type === '!') && n >= 0)
    return at + n + 2 <= b.length ? at + n + 2 : -1;
  if ((type === '*' || type === '%' || type === '~' || type === '>') && n > 0) {
    for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
      at = replyEnd(b, at);
      if (at < 0) return -1;
    }
  }
  return at;
}

/** Wire is a raw connection to the RESP port of `A` that collects replies as they come. */
class Wire {
  readonly socket: Socket;
  received: Buffer = Buffer.alloc(0);
  /** keep is false while only `count` and the last MiB (`tail`) are kept (huge replies). */
  keep = true;
  tail: Buffer[] = [];
  tailBytes = 0;
  count = 0;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.count += d.length;
      if (this.keep) this.received = Buffer.concat([this.received, d]);
      else {
        this.tail.push(d);
        this.tailBytes += d.length;
        while (this.tailBytes - this.tail[0]!.length >= 1 << 20) this.tailBytes -= this.tail.shift()!.length;
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(): Promise<Wire> {
    const { host, port } = respOf(A);
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => {
        resolve(new Wire(s));
      });
      s.once('error', reject);
    });
  }

  /** replies waits (up to `ms`) for `n` complete replies, or for the close, and returns the replies' text. */
  async replies(n: number, ms = 60000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      let at = 0;
      let count = 0;
      while (count < n && at < this.received.length) {
        const end = replyEnd(this.received, at);
        if (end < 0) break;
        at = end;
        count++;
      }
      if (count >= n || this.closed || Date.now() > deadline) return this.received.toString('latin1', 0, at);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** closedWithin resolves whether the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** exchange sends `commands` on a new connection and returns the text of `n` replies (default one per command). */
async function exchange(commands: (string | Buffer)[][], n = commands.length): Promise<string> {
  const w = await Wire.open();
  try {
    w.socket.write(Buffer.concat(commands.map(encode)));
    return await w.replies(n);
  } finally {
    w.close();
  }
}

describe('RESP with malformed frames', () => {
  const cases: [string, string][] = [
    ['*-5\r\n*abc\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\n$-2\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*01\r\n$4\r\nPING\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\n$04\r\nPING\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    [`*2\r\n$3\r\nSET\r\n$${1048576 + 1024 * 1024 + 1}\r\n`, '-ERR Protocol error: invalid bulk length\r\n'],
    ['*2\r\n$4\r\nECHO\r\n:1\r\n', "-ERR Protocol error: expected '$', got ':'\r\n"],
    ['*2000000\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['PING\r\nECHO "a\r\n', '+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n'],
    [`SET k ${'a'.repeat(1 << 20)}\r\n`, '-ERR Protocol error: too big inline request\r\n'],
  ];
  for (const [wire, reply] of cases) {
    it(`answers ${JSON.stringify(wire.slice(0, 24))} with Redis's error and closes`, async () => {
      const w = await Wire.open();
      try {
        w.socket.write(Buffer.from(wire, 'latin1'));
        assert.equal(await w.replies(reply.split('\r\n').length - 1), reply);
        assert.ok(await w.closedWithin(10000), 'the connection is closed');
      } finally {
        w.close();
      }
    });
  }

  it('waits for a bulk shorter than declared, skips an empty line, and splits quoted inline arguments', async () => {
    const w = await Wire.open();
    try {
      w.socket.write('\r\n\r\nSET "in line" "a\\x41 b"\r\nGET \'in line\'\r\n*2\r\n$4\r\nECHO\r\n$4\r\nabc');
      assert.equal(await w.replies(2), '+OK\r\n$4\r\naA b\r\n');
      w.socket.write('d\r\n');
      assert.equal(await w.replies(3), '+OK\r\n$4\r\naA b\r\n$4\r\nabcd\r\n');
      assert.equal(w.closed, false);
    } finally {
      w.close();
    }
  });

  it('stores keys holding NUL bytes as those bytes (the HTTP API names them percent-encoded)', async () => {
    const key = Buffer.from('nul\0key\0', 'latin1');
    assert.equal(await exchange([['SET', key, 'v\0']]), '+OK\r\n');
    const res = await fetch(`http://${A}/kv/nul%00key%00`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from('v\0', 'latin1'));
  });
});

describe('RESP with huge commands and pipelines', () => {
  it('answers a command of a million arguments (EXISTS on one key)', async () => {
    const count = (1 << 20) - 1;
    const w = await Wire.open();
    try {
      w.socket.write(encode(['SET', 'many', 'v']));
      w.socket.write(Buffer.from(`*${count + 1}\r\n$6\r\nEXISTS\r\n`));
      w.socket.write(Buffer.from('$4\r\nmany\r\n'.repeat(count)));
      w.socket.write(encode(['PING']));
      assert.equal(await w.replies(3, 120000), `+OK\r\n:${count}\r\n+PONG\r\n`);
    } finally {
      w.close();
    }
  });

  it('answers 100,000 pipelined commands written in one go, in order, to a client that reads late', async () => {
    const n = 100000;
    const w = await Wire.open();
    try {
      w.socket.pause();
      const cmds: (string | Buffer)[][] = [];
      for (let i = 0; i < n; i++)
        cmds.push(i % 2 === 0 ? ['SET', `p:${i % 97}`, String(i)] : ['GET', `p:${(i - 1) % 97}`]);
      w.socket.write(Buffer.concat(cmds.map(encode)));
      await new Promise((r) => setTimeout(r, 500));
      w.socket.resume();
      const text = await w.replies(n, 120000);
      const expected: string[] = [];
      for (let i = 0; i < n; i++)
        expected.push(i % 2 === 0 ? '+OK\r\n' : `$${String(i - 1).length}\r\n${i - 1}\r\n`);
      assert.equal(text, expected.join(''));
    } finally {
      w.close();
    }
  });
});

/** serverRss reads the node's resident memory from INFO memory, in bytes. */
async function serverRss(): Promise<number> {
  const text = await exchange([['INFO', 'memory']]);
  const m = /used_memory_rss:(\d+)/.exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

describe('RESP with a client that does not read its replies', () => {
  const big = Buffer.alloc(512 * 1024, 0x62);
  const bigReply = `$${big.length}\r\n${big.toString('latin1')}\r\n`;

  it('stops reading instead of buffering the replies of 1,200 GETs of a 512 KiB value (600 MiB)', async () => {
    assert.equal(await exchange([['SET', 'big', big]]), '+OK\r\n');
    const before = await serverRss();
    const w = await Wire.open();
    try {
      w.socket.pause();
      const n = 1200;
      w.socket.write(Buffer.concat(Array.from({ length: n }, () => encode(['GET', 'big']))));
      let most = 0;
      for (let i = 0; i < 15; i++) {
        await new Promise((r) => setTimeout(r, 200));
        most = Math.max(most, (await serverRss()) - before);
      }
      assert.ok(most < 256 * 1024 * 1024, `the node grew by ${Math.round(most / 1048576)} MiB`);
      w.keep = false;
      w.socket.resume();
      for (let i = 0; i < 1200 && w.count < n * bigReply.length && !w.closed; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(w.count, n * bigReply.length);
      const tail = Buffer.concat(w.tail);
      assert.equal(tail.toString('latin1', tail.length - bigReply.length), bigReply);
    } finally {
      w.close();
    }
  });

  it('holds at most a window of large values when a window grown on small replies meets GETs of 512 KiB values', async () => {
    assert.equal(await exchange([['SET', 'big', big]]), '+OK\r\n');
    const w = await Wire.open();
    try {
      const small = Array.from({ length: 20000 }, () => encode(['GET', 'missing']));
      w.socket.write(Buffer.concat(small));
      assert.equal(await w.replies(20000), '$-1\r\n'.repeat(20000));
      const before = await serverRss();
      w.socket.pause();
      const n = 2000;
      w.socket.write(Buffer.concat(Array.from({ length: n }, () => encode(['GET', 'big']))));
      let most = 0;
      for (let i = 0; i < 15; i++) {
        await new Promise((r) => setTimeout(r, 200));
        most = Math.max(most, (await serverRss()) - before);
      }
      assert.ok(most < 1536 * 1024 * 1024, `the node grew by ${Math.round(most / 1048576)} MiB`);
      w.keep = false;
      w.count = 0;
      w.socket.resume();
      for (let i = 0; i < 1200 && w.count < n * bigReply.length && !w.closed; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(w.count, n * bigReply.length);
    } finally {
      w.close();
    }
  });
});

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
    assert.equal(
      await exchange([
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
      ]),
      '+OK\r\n$-1\r\n+OK\r\n$-1\r\n$1\r\nv\r\n+OK\r\n:0\r\n' +
        '-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n-ERR syntax error\r\n+OK\r\n:20\r\n' +
        '+OK\r\n:20\r\n$1\r\nw\r\n',
    );
  });

  it('EXPIRE / PEXPIRE with a time of 0 or less delete the key; TTL, EXPIRE and PERSIST take keys that are not UTF-8', async () => {
    const bin = Buffer.from([0x74, 0xff, 0x00, 0xfe]);
    assert.equal(
      await exchange([
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
      ]),
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
        ['WAIT', '-1', '0'],
        ['WAIT', '1', '-1'],
        ['SELECT', '01'],
        ['SELECT', '-0'],
        ['MGET'],
        ['MSET', 'a', '1', 'b'],
      ]),
      '-ERR value is not an integer or out of range\r\n'.repeat(3) +
        '+OK\r\n-ERR increment or decrement would overflow\r\n-ERR syntax error\r\n-ERR invalid cursor\r\n:1\r\n' +
        '-ERR timeout is negative\r\n' +
        '-ERR value is not an integer or out of range\r\n'.repeat(2) +
        "-ERR wrong number of arguments for 'mget' command\r\n-ERR wrong number of arguments for 'mset' command\r\n",
    );
  });

  it('WAIT for more replicas than exist answers the count there is after the timeout; WAIT 0 0 answers at once', async () => {
    assert.equal(
      await exchange([
        ['SET', 'w:1', 'v'],
        ['WAIT', '5', '200'],
        ['WAIT', '0', '0'],
      ]),
      '+OK\r\n:1\r\n:1\r\n',
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

describe('RESP model test', () => {
  const INVALID: readonly [string, string][] = [
    ['*-5\r\n*abc\r\n', 'invalid multibulk length'],
    ['*1\r\n$-2\r\n', 'invalid bulk length'],
    ['*2\r\n$3\r\nGET\r\n+x\r\n', "expected '$', got '+'"],
    ['*1\r\n$04\r\nPING\r\n', 'invalid bulk length'],
    ['GET "k\r\n', 'unbalanced quotes in request'],
  ];

  it('answers random valid and invalid command streams, split at random byte boundaries, as a model says', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let round = 0; round < 25; round++) {
      const context = `seed ${seed} (DISTKV_SEED=${seed}), round ${round}`;
      const keys = Array.from({ length: 4 }, (_, i) => `model:${seed}:${round}:${i}`);
      const model = new Map<string, string>();
      const wire: Buffer[] = [];
      const replies: string[] = [];
      let invalid: string | undefined;
      for (let i = 0, n = 1 + Math.floor(rand() * 60); i < n && invalid === undefined; i++) {
        const k = pick(keys);
        const r = rand();
        let args: string[];
        if (r < 0.25) {
          const v = rand() < 0.5 ? String(Math.floor(rand() * 100)) : `v${Math.floor(rand() * 1e6)}`;
          args = ['SET', k, v];
          model.set(k, v);
          replies.push('+OK\r\n');
        } else if (r < 0.45) {
          args = ['GET', k];
          const v = model.get(k);
          replies.push(v === undefined ? '$-1\r\n' : `$${v.length}\r\n${v}\r\n`);
        } else if (r < 0.6) {
          args = ['INCR', k];
          const v = model.get(k) ?? '0';
          if (/^-?\d+$/.test(v)) {
            model.set(k, String(Number(v) + 1));
            replies.push(`:${Number(v) + 1}\r\n`);
          } else replies.push('-ERR value is not an integer or out of range\r\n');
        } else if (r < 0.7) {
          args = ['DEL', k];
          replies.push(`:${model.delete(k) ? 1 : 0}\r\n`);
        } else if (r < 0.8) {
          args = ['EXISTS', k, k];
          replies.push(`:${model.has(k) ? 2 : 0}\r\n`);
        } else if (r < 0.9) {
          args = rand() < 0.5 ? ['PING'] : ['ECHO', `e${i}`];
          replies.push(args.length === 1 ? '+PONG\r\n' : `$${args[1]!.length}\r\n${args[1]!}\r\n`);
        } else if (r < 0.97) {
          wire.push(Buffer.from(pick(['\r\n', '*0\r\n', '  \r\n'])));
          continue;
        } else {
          const [bytes, error] = pick(INVALID);
          wire.push(Buffer.from(bytes, 'latin1'));
          invalid = `-ERR Protocol error: ${error}\r\n`;
          replies.push(invalid);
          continue;
        }
        wire.push(rand() < 0.3 ? Buffer.from(`${args.join(' ')}\r\n`) : encode(args));
      }
      const bytes = Buffer.concat(wire);
      const w = await Wire.open();
      try {
        for (let at = 0; at < bytes.length;) {
          const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 8 : 200));
          w.socket.write(bytes.subarray(at, at + size));
          at += size;
          if (rand() < 0.2) await new Promise((r) => setTimeout(r, 2));
        }
        assert.equal(await w.replies(replies.length), replies.join(''), context);
        if (invalid !== undefined)
          assert.ok(await w.closedWithin(10000), `${context}: closed after ${invalid}`);
      } finally {
        w.close();
      }
    }
  });
});
