/**
 * RespParser with transient chunks (src/server/shared-read.ts): every chunk is a view of one
 * reused buffer that is scribbled over after each call, as the listener's next read does. The
 * arguments a command keeps (here: all of them, read only at the end), an unfinished array's
 * arguments and the unparsed rest must survive that. Seeded (DISTKV_SEED replays one schedule).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RespParser } from '../../src/resp/resp-parser.js';
import { seededRandom, testSeed } from '../helpers/random.js';

function encode(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** feedTransient feeds `wire` in the given piece sizes through one reused buffer; args are kept as given. */
function feedTransient(wire: Buffer, sizes: number[], stopEvery: number): Buffer[][] {
  const p = new RespParser(1 << 20);
  const shared = Buffer.alloc(64 * 1024);
  const kept: Buffer[][] = [];
  let n = 0;
  const onCommand = (args: Buffer[]): boolean => {
    kept.push(args);
    // Stopping leaves the rest of the chunk held, as a full pipeline window does.
    return ++n % stopEvery !== 0;
  };
  let pos = 0;
  for (const size of sizes) {
    const piece = wire.subarray(pos, pos + size);
    pos += piece.length;
    piece.copy(shared);
    assert.equal(p.feed(shared.subarray(0, piece.length), onCommand, true), undefined);
    shared.fill(0x55);
    // What was held is parsed on without new bytes (as when the window reopens).
    assert.equal(p.feed(undefined, onCommand), undefined);
  }
  for (let i = 0; i < 1000 && p.buffered > 0; i++) p.feed(undefined, onCommand);
  return kept;
}

describe('RespParser with chunks of a reused read buffer', () => {
  it('keeps every argument, unfinished array and unparsed rest intact (seeded)', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 40; round++) {
      const commands: Buffer[][] = [];
      for (let i = 0; i < 30; i++) {
        const argc = 1 + Math.floor(rnd() * 5);
        const args: Buffer[] = [];
        for (let a = 0; a < argc; a++) {
          const len = rnd() < 0.1 ? Math.floor(rnd() * 20000) : Math.floor(rnd() * 40);
          const b = Buffer.alloc(len);
          for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
          args.push(b);
        }
        commands.push(args);
      }
      const wire = Buffer.concat(commands.map(encode));
      const sizes: number[] = [];
      for (let left = wire.length; left > 0;) {
        const s = Math.min(left, 1 + Math.floor(rnd() * (rnd() < 0.5 ? 64 : 30000)));
        sizes.push(s);
        left -= s;
      }
      const kept = feedTransient(wire, sizes, 2 + Math.floor(rnd() * 5));
      const hex = (cmds: Buffer[][]): string[][] => cmds.map((args) => args.map((x) => x.toString('hex')));
      assert.deepEqual(hex(kept), hex(commands), `round ${round}, DISTKV_SEED=${seed}`);
    }
  });
});
