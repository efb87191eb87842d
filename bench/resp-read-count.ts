/**
 * The RESP listener's per-command work on a read, counted in instructions rather than timed: a
 * build's RespParser (src/resp/resp-parser.ts) given N reads of one command each (`-P 1`), each
 * read first written into one shared buffer, as the listener's reads are (src/server/shared-read.ts).
 * `--read copy` hands the parser a copy of each read (what RespConnection.read did before it parsed
 * reads in place), `--read transient` the shared buffer itself. Run it under callgrind with V8 in
 * its deterministic mode, twice with different N; the difference divided by the difference of N
 * is the instructions per command, repeatable to a few instructions on a loaded machine:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --predictable dist/bench/resp-read-count.js --build DIR --command get --reads 20000 --read transient
 *
 * (and again with --reads 120000). `--build` is a checkout with its dist/ built (default: this one).
 * `--pipeline P` puts P commands in each read (redis-benchmark's `-P P`); the figure is then per
 * read, so divide it by P for a command.
 *
 * Usage: node --predictable dist/bench/resp-read-count.js [--build DIR] [--command get|set (default get)]
 *        [--reads 100000] [--read copy|transient (default transient)] [--pipeline 1]
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, choice, count } from './lib/args.js';
import { ROOT } from './lib/processes.js';

type Feed = (
  chunk: Buffer | undefined,
  onCommand: (args: Buffer[]) => boolean,
  transient?: boolean,
) => unknown;

const BUILD = resolve(arg('build', ROOT));
const COMMAND = choice('command', 'get', ['get', 'set']);
const READS = count('reads', 100000);
const TRANSIENT = choice('read', 'transient', ['copy', 'transient']) === 'transient';
const PIPELINE = count('pipeline', 1);

const encode = (args: string[]): Buffer =>
  Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`);
const commands = Array.from({ length: 64 }, (_, i) => {
  const one = (j: number): Buffer => {
    const key = `key:${String(j * 7919).padStart(12, '0')}`;
    return encode(COMMAND === 'set' ? ['SET', key, 'x'.repeat(100)] : ['GET', key]);
  };
  return Buffer.concat(Array.from({ length: PIPELINE }, (_, j) => one(i * PIPELINE + j)));
});

const mod = (await import(pathToFileURL(join(BUILD, 'dist/src/resp/resp-parser.js')).href)) as {
  RespParser: new (maxBulk: number) => { feed: Feed };
};
const parser = new mod.RespParser(1 << 20);
const shared = Buffer.allocUnsafeSlow(64 * 1024);
let sum = 0;
const onCommand = (args: Buffer[]): boolean => {
  sum += args.length + args[0]![0]! + args[1]![0]!;
  return true;
};
for (let i = 0; i < READS; i++) {
  const c = commands[i & 63]!;
  c.copy(shared, 0);
  const read = shared.subarray(0, c.length);
  if (TRANSIENT) parser.feed(read, onCommand, true);
  else parser.feed(Buffer.from(read), onCommand);
}
process.stdout.write(`${sum}\n`);
