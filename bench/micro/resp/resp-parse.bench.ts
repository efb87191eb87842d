/**
 * Measures: the RESP listener's per-command work on the main thread before a command reaches the
 * worker pool (src/resp/resp-parser.ts): parsing what `redis-benchmark -t get -d 100` sends, one
 * GET per read (-P 1) and 16 per read (-P 16), and a SET with a 100-byte value; and writing a
 * 100-byte GET reply with `RespWriter.bulk` plus `take()` (src/resp/resp-format.ts).
 */
import { bench, do_not_optimize, run } from 'mitata';
import { RespWriter } from '../../../src/resp/resp-format.js';
import { RespParser } from '../../../src/resp/resp-parser.js';
import { printHeader } from '../header.js';

printHeader('resp/resp-parse');

function encode(args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`);
}

const key = (i: number): string => `key:${String(i * 7919).padStart(12, '0')}`;
const oneGet = encode(['GET', key(1)]);
const sixteenGets = Buffer.concat(Array.from({ length: 16 }, (_, i) => encode(['GET', key(i)])));
const oneSet = encode(['SET', key(1), 'x'.repeat(100)]);
const parser = new RespParser(1 << 20);
let sum = 0;
const onCommand = (args: Buffer[]): boolean => {
  sum += args.length + args[1]!.length;
  return true;
};

bench('RespParser: one GET per chunk', () => {
  parser.feed(oneGet, onCommand);
  do_not_optimize(sum);
});
bench('RespParser: 16 GETs per chunk', () => {
  parser.feed(sixteenGets, onCommand);
  do_not_optimize(sum);
});
bench('RespParser: one SET (100-byte value) per chunk', () => {
  parser.feed(oneSet, onCommand);
  do_not_optimize(sum);
});

const writer = new RespWriter(2);
const value = Buffer.alloc(100, 0x78);
bench('RespWriter: a 100-byte bulk reply + take()', () => {
  writer.bulk(value);
  do_not_optimize(writer.take());
});

await run();
