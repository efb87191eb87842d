/**
 * RespParser against careless and hostile clients: Redis's exact protocol errors for malformed
 * counts and lengths, Redis's limits before AUTH, bounded buffering of long arrays and lines, and a
 * seeded model test of random valid and invalid command streams split at random byte boundaries.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { RespParser } from '../../src/resp/resp-parser.js';
import { seededRandom, testSeed } from '../helpers/random.js';

function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** errorOf feeds `wire` in one chunk and returns the protocol error, if any. */
function errorOf(wire: string | Buffer, setup?: (p: RespParser) => void): string | undefined {
  const p = new RespParser(1 << 20);
  setup?.(p);
  return p.feed(Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'latin1'), () => true);
}

describe('RespParser with malformed input', () => {
  it('refuses leading zeros and "-0" in counts and lengths, as Redis does', () => {
    assert.equal(errorOf('*01\r\n$4\r\nPING\r\n'), 'Protocol error: invalid multibulk length');
    assert.equal(errorOf('*-0\r\n'), 'Protocol error: invalid multibulk length');
    assert.equal(errorOf('*1\r\n$04\r\nPING\r\n'), 'Protocol error: invalid bulk length');
    assert.equal(errorOf('*1\r\n$-0\r\n'), 'Protocol error: invalid bulk length');
    assert.equal(errorOf('*1\r\n$0\r\n\r\n'), undefined);
    assert.equal(errorOf('*0\r\n'), undefined);
  });

  it('refuses a command whose bulks pass maxCommand when the length that passes it is read, before its bytes', () => {
    const p = new RespParser(1024, 2000);
    const seen: number[] = [];
    const onCommand = (args: Buffer[]): boolean => {
      seen.push(args.length);
      return true;
    };
    assert.equal(
      p.feed(encode(['MSET', 'a', Buffer.alloc(500), 'b', Buffer.alloc(500)]), onCommand),
      undefined,
    );
    assert.equal(p.feed(Buffer.from('*5\r\n$4\r\nMSET\r\n$1\r\na\r\n'), onCommand), undefined);
    assert.equal(
      p.feed(Buffer.concat([Buffer.from('$1000\r\n'), Buffer.alloc(1000), Buffer.from('\r\n')]), onCommand),
      undefined,
    );
    assert.equal(p.holding, 1026, 'the bulks so far (framing included) of the incomplete array are held');
    assert.equal(
      p.feed(Buffer.from('$1\r\nb\r\n$1024\r\n'), onCommand),
      'Protocol error: command of more than 2000 bytes',
    );
    assert.deepEqual(seen, [5]);
  });

  it('refuses an inline line over 64 KiB even when its newline arrives in the same chunk', () => {
    const line = Buffer.concat([Buffer.from('SET k '), Buffer.alloc(70000, 0x61), Buffer.from('\r\n')]);
    assert.equal(errorOf(line), 'Protocol error: too big inline request');
  });

  it("applies Redis's limits before AUTH: at most 10 arguments and 16 KiB bulks", () => {
    const locked = (p: RespParser): void => {
      p.authRequired = true;
    };
    const args11 = Array.from({ length: 11 }, () => 'k');
    assert.equal(errorOf(encode(args11), locked), 'Protocol error: unauthenticated multibulk length');
    assert.equal(
      errorOf(encode(['AUTH', Buffer.alloc(16385, 0x61)]), locked),
      'Protocol error: unauthenticated bulk length',
    );
    assert.equal(errorOf(encode(args11.slice(1)), locked), undefined);
    assert.equal(errorOf(encode(['AUTH', Buffer.alloc(16384, 0x61)]), locked), undefined);
    assert.equal(errorOf(encode(args11)), undefined);
  });

  it('holds only the unparsed tail of an array of a million arguments, not the whole command', () => {
    const count = 1 << 20;
    const wire = Buffer.concat([
      Buffer.from(`*${count}\r\n`),
      Buffer.from('$1\r\nk\r\n'.repeat(count)),
      encode(['PING']),
    ]);
    const p = new RespParser(1 << 20);
    const seen: number[] = [];
    let most = 0;
    for (let at = 0; at < wire.length; at += 65536) {
      const error = p.feed(wire.subarray(at, at + 65536), (args) => {
        seen.push(args.length);
        return true;
      });
      assert.equal(error, undefined);
      most = Math.max(most, p.buffered);
    }
    assert.deepEqual(seen, [count, 1]);
    assert.ok(most < 65536, `held ${most} bytes`);
  });

  it('copies each argument of an array that arrives in transient reads once, however many reads it spans', () => {
    // Each read ends at a bulk boundary, so each is parsed in place and its arguments are copied
    // when the array suspends: copying every argument so far at each suspend cost quadratic time
    // (an array of 400,000 arguments in 2,000 reads kept the main thread busy for minutes).
    const reads = 200;
    const perRead = 50;
    const p = new RespParser(1 << 20);
    const shared = Buffer.alloc(65536);
    const feed = (bytes: Buffer, onCommand: (args: Buffer[]) => boolean): void => {
      bytes.copy(shared);
      assert.equal(p.feed(shared.subarray(0, bytes.length), onCommand, true), undefined);
    };
    const seen: string[][] = [];
    const onCommand = (args: Buffer[]): boolean => {
      seen.push(args.map((a) => a.toString('latin1')));
      return true;
    };
    const copies = mock.method(Buffer, 'from');
    try {
      feed(Buffer.from(`*${reads * perRead}\r\n`), onCommand);
      for (let r = 0; r < reads; r++) {
        const args = Array.from({ length: perRead }, (_, i) => `k${r * perRead + i}`);
        feed(Buffer.concat(args.map((a) => Buffer.from(`$${a.length}\r\n${a}\r\n`))), onCommand);
      }
    } finally {
      copies.mock.restore();
    }
    assert.equal(seen.length, 1);
    assert.deepEqual(
      seen[0],
      Array.from({ length: reads * perRead }, (_, i) => `k${i}`),
      'every argument kept its bytes after the read buffer was overwritten',
    );
    // Each argument once, besides the test's own Buffer.from calls (the count line, one per argument).
    const own = 1 + reads * perRead;
    const made = copies.mock.callCount() - own;
    assert.ok(made <= reads * perRead, `${made} copies for ${reads * perRead} arguments`);
  });
});

/** A frame of a random stream: its bytes and what the parser must make of it. */
type Frame = { bytes: Buffer; commands: string[][] } | { bytes: Buffer; error: string };

const INVALID: readonly [string, string][] = [
  ['*-5\r\n*abc\r\n', 'Protocol error: invalid multibulk length'],
  ['*abc\r\n', 'Protocol error: invalid multibulk length'],
  ['*1\r\n$-2\r\n', 'Protocol error: invalid bulk length'],
  ['*1\r\n$2000000\r\n', 'Protocol error: invalid bulk length'],
  ['*2\r\n$3\r\nGET\r\n+x\r\n', "Protocol error: expected '$', got '+'"],
  ['*1\r\n$x\r\n', 'Protocol error: invalid bulk length'],
  ['*2000000\r\n', 'Protocol error: invalid multibulk length'],
  ['SET "a b\r\n', 'Protocol error: unbalanced quotes in request'],
  ["GET 'k'x\r\n", 'Protocol error: unbalanced quotes in request'],
];

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function randomFrame(rand: () => number): Frame {
  const r = rand();
  if (r < 0.55) {
    const args = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
      randomBytes(rand, rand() < 0.1 ? Math.floor(rand() * 70000) : Math.floor(rand() * 12)),
    );
    return { bytes: encode(args), commands: [args.map((a) => a.toString('hex'))] };
  }
  if (r < 0.8) {
    const words = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
      Buffer.from(Math.floor(rand() * 1e9).toString(36)),
    );
    const line = Buffer.concat([Buffer.from(words.join(rand() < 0.5 ? ' ' : ' \t ')), Buffer.from('\r\n')]);
    return { bytes: line, commands: [words.map((w) => w.toString('hex'))] };
  }
  if (r < 0.9)
    return {
      bytes: Buffer.from(['\r\n', '*0\r\n', '*-1\r\n', '  \n'][Math.floor(rand() * 4)]!),
      commands: [],
    };
  const [bytes, error] = INVALID[Math.floor(rand() * INVALID.length)]!;
  return { bytes: Buffer.from(bytes, 'latin1'), error };
}

describe('RespParser with lines fed a byte per read', () => {
  /** joinsWhile counts the Buffer.concat calls made while `run` runs. */
  function joinsWhile(run: () => void): number {
    const concat = mock.method(Buffer, 'concat');
    try {
      run();
      return concat.mock.callCount();
    } finally {
      concat.mock.restore();
    }
  }

  /** feedBytes feeds `wire` one byte per read (each a transient chunk when asked) and returns the commands. */
  function feedBytes(p: RespParser, wire: Buffer, transient = false): string[][] {
    const seen: string[][] = [];
    const shared = Buffer.alloc(1);
    for (let i = 0; i < wire.length; i++) {
      shared[0] = wire[i]!;
      const chunk = transient ? shared : wire.subarray(i, i + 1);
      assert.equal(
        p.feed(chunk, (args) => (seen.push(args.map((a) => a.toString('latin1'))), true), transient),
        undefined,
      );
    }
    return seen;
  }

  it('holds an unfinished inline line, count or length without re-joining it per read', () => {
    const value = 'v'.repeat(20_000);
    const inline = Buffer.from(`SET k ${value}\r\n`);
    const long = '9'.repeat(15);
    // A length line of many leading spaces is not valid, but a count line split a byte at a time is.
    const array = Buffer.concat([
      Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n`),
      Buffer.from(`${value}\r\n`),
    ]);
    for (const transient of [false, true]) {
      const p = new RespParser(1 << 20);
      let seen: string[][] = [];
      const joins = joinsWhile(() => (seen = feedBytes(p, Buffer.concat([inline, array]), transient)));
      assert.deepEqual(seen, [
        ['SET', 'k', value],
        ['SET', 'k', value],
      ]);
      // One join per line end at most (the bulk's bytes are gathered once they can be complete).
      assert.ok(joins < 40, `${joins} joins for ${inline.length + array.length} one-byte reads`);
    }
    // The limits still apply to a line that never ends.
    const p = new RespParser(1 << 20);
    let error: string | undefined;
    for (let i = 0; i <= 70_000 && error === undefined; i++) error = p.feed(Buffer.from('a'), () => true);
    assert.equal(error, 'Protocol error: too big inline request');
    const q = new RespParser(1 << 20);
    error = q.feed(Buffer.from('*'), () => true);
    for (let i = 0; i <= 70_000 && error === undefined; i++)
      error = q.feed(Buffer.from(long.slice(0, 1)), () => true);
    assert.equal(error, 'Protocol error: too big multibulk count string');
  });
});

describe('RespParser model test', () => {
  it('parses random valid and invalid streams split at random byte boundaries as the model says', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const frames: Frame[] = [];
      for (let i = 0, n = 1 + Math.floor(rand() * 20); i < n; i++) {
        const f = randomFrame(rand);
        frames.push(f);
        if ('error' in f) break;
      }
      const wire = Buffer.concat(frames.map((f) => f.bytes));
      const last = frames[frames.length - 1]!;
      const expected = frames.flatMap((f) => ('commands' in f ? f.commands : []));
      const p = new RespParser(1 << 20);
      const seen: string[][] = [];
      const onCommand = (args: Buffer[]): boolean => {
        seen.push(args.map((a) => a.toString('hex')));
        return rand() < 0.9;
      };
      let error: string | undefined;
      for (let at = 0; at < wire.length && error === undefined;) {
        const size = rand() < 0.3 ? 1 + Math.floor(rand() * 4) : 1 + Math.floor(rand() * 100000);
        error = p.feed(wire.subarray(at, at + size), onCommand);
        at += size;
        while (error === undefined && p.buffered > 0 && seen.length < expected.length && rand() < 0.9)
          error = p.feed(undefined, onCommand);
      }
      for (let i = 0; error === undefined && p.buffered > 0 && i < 1000; i++)
        error = p.feed(undefined, onCommand);
      const context = `seed ${seed} (DISTKV_SEED=${seed}), round ${round}`;
      assert.deepEqual(seen, expected, context);
      assert.equal(error, 'error' in last ? last.error : undefined, context);
    }
  });
});
