/**
 * What an array whose bulks arrive in many reads costs a build's RespParser (src/resp/resp-parser.ts)
 * when each read ends at a bulk boundary, as a client that writes its arguments in small bursts can
 * arrange: each read is written into one shared buffer and fed as a transient chunk (as the
 * listener's reads are, src/server/shared-read.ts), so it is parsed in place and the array
 * suspends at its end, keeping copies of its arguments. Prints the parse time of the whole array:
 * it grew with the square of the reads while each suspend copied every argument so far.
 *
 * Usage: node dist/bench/resp-suspend-cost.js [--build DIR] [--reads 1000] [--per-read 200]
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, count } from './lib/args.js';
import { ROOT } from './lib/processes.js';
import { printHeader } from './micro/header.js';

type Feed = (chunk: Buffer, onCommand: (args: Buffer[]) => boolean, transient?: boolean) => unknown;

const BUILD = resolve(arg('build', ROOT));
const READS = count('reads', 1000);
const PER_READ = count('per-read', 200);

printHeader(`resp-suspend-cost ${BUILD} reads=${READS} per-read=${PER_READ}`);
const mod = (await import(pathToFileURL(join(BUILD, 'dist/src/resp/resp-parser.js')).href)) as {
  RespParser: new (maxBulk: number, maxCommand: number) => { feed: Feed };
};
const parser = new mod.RespParser(1 << 20, 1 << 30);
const shared = Buffer.allocUnsafeSlow(64 * 1024);
let args = 0;
const onCommand = (a: Buffer[]): boolean => {
  args = a.length;
  return true;
};
const feed = (bytes: Buffer): void => {
  bytes.copy(shared, 0);
  parser.feed(shared.subarray(0, bytes.length), onCommand, true);
};
const read = Buffer.from('$4\r\n{b}x\r\n'.repeat(PER_READ));
const started = performance.now();
feed(Buffer.from(`*${READS * PER_READ}\r\n`));
for (let i = 0; i < READS; i++) feed(read);
const ms = performance.now() - started;
process.stdout.write(`${args} arguments in ${READS} reads: ${ms.toFixed(0)} ms\n`);
