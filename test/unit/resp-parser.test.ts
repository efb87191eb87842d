import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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

/** parseChunks feeds `chunks` and returns the commands (arguments as hex, so binary compares exactly). */
function parseChunks(chunks: Buffer[], maxBulk = 1 << 20): { commands: string[][]; error?: string } {
  const p = new RespParser(maxBulk);
  const commands: string[][] = [];
  for (const c of chunks) {
    const error = p.feed(c, (args) => {
      commands.push(args.map((a) => a.toString('hex')));
      return true;
    });
    if (error !== undefined) return { commands, error };
  }
  return { commands };
}

const hex = (cmds: (string | Buffer)[][]): string[][] =>
  cmds.map((args) => args.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(a)).toString('hex')));

/** named is a command name as the dispatcher compares it (any case). */
const named = (name: Buffer): string => name.toString('latin1').toUpperCase();

describe('RespParser', () => {
  const commands: (string | Buffer)[][] = [
    ['SET', 'key:1', 'value'],
    ['GET', 'key:1'],
    ['SET', 'bin', Buffer.from([0, 13, 10, 0xff, 0x24, 0x2a])],
    ['SET', 'empty', ''],
    ['PING'],
  ];
  const wire = Buffer.concat([...commands.map(encode), Buffer.from('PING hello  world\r\nECHO x\n')]);
  const expected = [...hex(commands), hex([['PING', 'hello', 'world']])[0]!, hex([['ECHO', 'x']])[0]!];

  it('parses a pipeline of array and inline commands split into two chunks at every byte', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const r = parseChunks([wire.subarray(0, cut), wire.subarray(cut)]);
      assert.equal(r.error, undefined, `cut at ${cut}`);
      assert.deepEqual(r.commands, expected, `cut at ${cut}`);
    }
  });

  it('parses the same pipeline delivered one byte at a time', () => {
    const chunks = Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1));
    assert.deepEqual(parseChunks(chunks).commands, expected);
  });

  it('parses random pipelines of binary values split at random points', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const cmds: Buffer[][] = [];
      for (let n = 1 + Math.floor(rnd() * 8); n > 0; n--) {
        const args: Buffer[] = [];
        for (let a = 1 + Math.floor(rnd() * 4); a > 0; a--) {
          const len = rnd() < 0.1 ? Math.floor(rnd() * 70000) : Math.floor(rnd() * 20);
          args.push(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))));
        }
        cmds.push(args);
      }
      const bytes = Buffer.concat(cmds.map(encode));
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 65536));
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(parseChunks(chunks).commands, hex(cmds), `seed ${seed} round ${round}`);
    }
  });

  it('parses transient reads in place and keeps copies of what it holds when the read buffer is overwritten', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const shared = Buffer.alloc(70000);
    for (let round = 0; round < 200; round++) {
      const cmds: Buffer[][] = [];
      for (let n = 1 + Math.floor(rnd() * 8); n > 0; n--) {
        const args: Buffer[] = [Buffer.from(['GET', 'set', 'MGET', 'x'][Math.floor(rnd() * 4)]!)];
        for (let a = Math.floor(rnd() * 4); a > 0; a--) {
          const len = rnd() < 0.1 ? Math.floor(rnd() * 60000) : Math.floor(rnd() * 20);
          args.push(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))));
        }
        cmds.push(args);
      }
      const bytes = Buffer.concat(cmds.map(encode));
      const p = new RespParser(1 << 20);
      const got: string[][] = [];
      const flow = { stopped: false };
      // Arguments are read during the callback only, as the connection does for GET and SET; a
      // stop leaves the rest in the parser, resumed (not transient) before the next read. A GET
      // or SET name is the parser's shared one, in upper case.
      const onCommand = (args: Buffer[]): boolean => {
        got.push(args.map((a, i) => (i === 0 ? named(a) : a.toString('hex'))));
        flow.stopped = rnd() < 0.2;
        return !flow.stopped;
      };
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(bytes.length - at, 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 65536)));
        bytes.copy(shared, 0, at, at + n);
        at += n;
        assert.equal(p.feed(shared.subarray(0, n), onCommand, true), undefined);
        shared.fill(0x2a);
        while (flow.stopped) {
          flow.stopped = false;
          p.feed(undefined, onCommand);
        }
      }
      const want = hex(cmds).map((args) => args.map((a, i) => (i === 0 ? named(Buffer.from(a, 'hex')) : a)));
      assert.deepEqual(got, want, `seed ${seed} round ${round}`);
    }
  });

  it('keeps the rest of the input when the callback asks to stop, and parses it on the next feed', () => {
    const p = new RespParser(1024);
    const seen: string[] = [];
    p.feed(Buffer.concat([encode(['A']), encode(['B'])]), (args) => {
      seen.push(args[0]!.toString());
      return false;
    });
    assert.deepEqual(seen, ['A']);
    p.feed(undefined, (args) => {
      seen.push(args[0]!.toString());
      return true;
    });
    assert.deepEqual(seen, ['A', 'B']);
    assert.equal(p.buffered, 0);
  });

  it("reports Redis's protocol errors: a bulk without '$', a negative or oversized bulk length", () => {
    assert.equal(parseChunks([Buffer.from('*1\r\n+x\r\n')]).error, "Protocol error: expected '$', got '+'");
    assert.equal(parseChunks([Buffer.from('*1\r\n$-5\r\n')]).error, 'Protocol error: invalid bulk length');
    assert.equal(
      parseChunks([Buffer.from('*1\r\n$2000\r\n')], 1000).error,
      'Protocol error: invalid bulk length',
    );
    assert.equal(parseChunks([Buffer.from('*x\r\n')]).error, 'Protocol error: invalid multibulk length');
    assert.equal(
      parseChunks([Buffer.from('*99999999\r\n')]).error,
      'Protocol error: invalid multibulk length',
    );
  });

  it('reads lengths of up to 15 digits and refuses 16 digits', () => {
    assert.deepEqual(
      parseChunks([Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n')]).commands,
      hex([['GET', 'k']]),
    );
    assert.equal(
      parseChunks([Buffer.from('*1\r\n$100000000000000\r\nPING\r\n')]).error,
      'Protocol error: invalid bulk length',
      '15 digits are read (and are over the limit)',
    );
    assert.equal(
      parseChunks([Buffer.from('*1000000000000000\r\n')]).error,
      'Protocol error: invalid multibulk length',
    );
    assert.equal(
      parseChunks([Buffer.from('*1\r\n$1000000000000000\r\nPING\r\n')]).error,
      'Protocol error: invalid bulk length',
    );
    assert.equal(parseChunks([Buffer.from('*1\r\n$\r\n')]).error, 'Protocol error: invalid bulk length');
    assert.equal(
      parseChunks([Buffer.from('*1\r\n$+4\r\nPING\r\n')]).error,
      'Protocol error: invalid bulk length',
    );
  });

  it('refuses an inline command without a newline beyond 64 KiB instead of buffering forever', () => {
    assert.equal(parseChunks([Buffer.alloc(70000, 0x61)]).error, 'Protocol error: too big inline request');
  });

  it('ignores empty arrays and blank inline lines', () => {
    assert.deepEqual(parseChunks([Buffer.from('*0\r\n\r\n*-1\r\nPING\r\n')]).commands, hex([['PING']]));
  });

  it('splits inline commands as Redis does: quotes, escapes and quoted empty arguments', () => {
    const r = parseChunks([
      Buffer.from('SET "a b" \'c d\'\r\nSET "x\\ty\\x41\\"z" \'it\\\'s\'\r\nSET k"e y" ""\r\n'),
    ]);
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.commands,
      hex([
        ['SET', 'a b', 'c d'],
        ['SET', 'x\tyA"z', "it's"],
        ['SET', 'ke y', ''],
      ]),
    );
  });

  it('refuses unbalanced quotes in an inline command, as Redis does', () => {
    for (const line of ['SET "a b\r\n', "SET 'a\r\n", 'SET "a"b c\r\n'])
      assert.equal(
        parseChunks([Buffer.from(line)]).error,
        'Protocol error: unbalanced quotes in request',
        line,
      );
  });
});
