/**
 * The RESP listener against careless and hostile clients, each expectation checked against what
 * redis-server 7 answers to the same bytes: malformed frames get Redis's protocol error and the
 * connection closes; a million-argument command and a 100,000-command pipeline written in one go
 * are answered; a client that stops reading is not buffered for without bound; and random valid
 * and invalid streams split at random byte boundaries are answered as a model says. Argument edge
 * cases are in resp-arguments.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { encode, exchange as exchangeAt, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** exchange sends `commands` to node A's RESP port and returns the replies' text. */
const exchange = (commands: (string | Buffer)[][], n?: number): Promise<string> =>
  exchangeAt(respOf(A), commands, n);

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
      const w = await Wire.open(respOf(A));
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
    const w = await Wire.open(respOf(A));
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
    const w = await Wire.open(respOf(A));
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
    const w = await Wire.open(respOf(A));
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
    const w = await Wire.open(respOf(A));
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
    const w = await Wire.open(respOf(A));
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
      const w = await Wire.open(respOf(A));
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
