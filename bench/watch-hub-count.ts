/**
 * The hub's work per record of a busy broadcast, for counting instructions (docs/performance.md,
 * session 38's "Watch" section): `--batches` times, one feed batch of 400 puts (`key<N>`, 100-byte
 * values, as the watch bench writes) through the checkout at `--dir`'s decodeLog, batchEpochs and
 * sharedBlock (binary stream version 2), nothing else. Run it under callgrind at two batch counts;
 * the difference of the totals ÷ (the difference of the counts × 400) is the instructions per
 * record, start-up and compilation left out:
 *
 *   valgrind --tool=callgrind node --predictable dist/bench/watch-hub-count.js --dir DIR --batches 500
 *   valgrind --tool=callgrind node --predictable dist/bench/watch-hub-count.js --dir DIR --batches 1500
 *
 * Usage: node dist/bench/watch-hub-count.js [--dir DIR (default ., the current directory)] [--batches 500]
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as walFormat from '../src/storage/wal-format.js';
import type * as storeLog from '../src/watch/store-log.js';
import type * as watchEvent from '../src/watch/watch-event.js';
import { arg, count } from './lib/args.js';

const DIR = arg('dir', '.');
const BATCHES = count('batches', 500);
const BATCH = 400;

async function main(): Promise<void> {
  const dir = (path: string): string => pathToFileURL(join(resolve(DIR), 'dist', path)).href;
  const { decodeLog } = (await import(dir('src/watch/store-log.js'))) as typeof storeLog;
  const { sharedBlock, batchEpochs } = (await import(dir('src/watch/watch-event.js'))) as typeof watchEvent;
  const { encodeRecord, recordSize, TYPE_PUT } = (await import(
    dir('src/storage/wal-format.js')
  )) as typeof walFormat;
  const value = Buffer.from('v'.repeat(100));
  const size = recordSize(8, value.length);
  const bytes = Buffer.alloc(size * BATCH);
  for (let i = 0; i < BATCH; i++)
    encodeRecord(bytes, i * size, TYPE_PUT, 100 + i, Buffer.from(`key${String(10000 + i)}`), value);
  const prefix = Buffer.from('key');
  let sink = 0;
  for (let i = 0; i < BATCHES; i++) {
    const batch = decodeLog(bytes);
    sink += sharedBlock(
      batch,
      1,
      prefix,
      true,
      'bin2',
      batchEpochs(batch, () => 2),
    ).length;
  }
  process.stdout.write(`${String(BATCHES * BATCH)} records, ${String(sink)} bytes encoded\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
