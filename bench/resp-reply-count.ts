/**
 * The RESP reply queue's work per reply, counted in instructions rather than timed: a build's
 * ReplyQueue (src/resp/reply-queue.ts) given N pipelines of 16 commands, each pipeline's places
 * reserved in order and filled as a shard worker's reply batch fills them, then drained as the
 * connection drains it. `--order stores`: SET replies (+OK), the 16 commands' keys spread over 4
 * stores and answered store by store, as a worker settles a commit log batch (so most replies
 * arrive behind an unanswered one); `--order inline`: GET replies of 100-byte values, answered in
 * command order (as a worker answers the reads of a batch). Run it under callgrind with V8 in its
 * deterministic mode, twice with different N; the difference divided by the difference of the
 * reply counts is the instructions per reply:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --predictable dist/bench/resp-reply-count.js --build DIR --order stores --pipelines 2000
 *
 * (and again with --pipelines 12000). `--build` is a checkout with its dist/ built (default: this one).
 *
 * Usage: node --predictable dist/bench/resp-reply-count.js [--build DIR] [--order stores|inline (default stores)]
 *        [--pipelines 10000]
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, choice, count } from './lib/args.js';
import { ROOT } from './lib/processes.js';

/** Writer is what the harness's formats use of a build's RespWriter. */
interface Writer {
  ok(): void;
  bulk(b: Uint8Array): void;
  view(): Buffer;
  release(kept: boolean): void;
  readonly length: number;
}

/** Place is a build's Pending: older builds report writes from the format (`noteWrite`). */
interface Place {
  onReply(status: number, seq: number, value: Buffer): void;
  noteWrite?: (seq: number) => void;
}

type Format = (w: Writer, status: number, seq: number, value: Buffer, p: Place) => void;

interface Queue {
  readonly out: Writer;
  later(proto: 2, format: Format, store?: number): Place;
}

const BUILD = resolve(arg('build', ROOT));
const ORDER = choice('order', 'stores', ['stores', 'inline']);
const PIPELINES = count('pipelines', 10000);
const DEPTH = 16;
const STORES = 4;
const ST_DONE = 1;
const ST_VALUE = 0;

const mod = (await import(pathToFileURL(join(BUILD, 'dist/src/resp/reply-queue.js')).href)) as {
  ReplyQueue: new (onReady: () => void, onWrite: (store: number, seq: number) => void) => Queue;
};
// As the connection records writes for WAIT (RespConnection.noteWrite).
const lastWrites = new Map<number, number>();
const queue = new mod.ReplyQueue(
  () => undefined,
  (store, seq) => {
    if (seq > (lastWrites.get(store) ?? 0)) lastWrites.set(store, seq);
  },
);
const formatSetOk: Format = (w, status, seq, _value, p) => {
  if (status === ST_DONE) p.noteWrite?.(seq);
  w.ok();
};
const formatGet: Format = (w, _status, _seq, value) => {
  w.bulk(value);
};
const value = Buffer.alloc(100, 0x61);
const empty = Buffer.alloc(0);
let seq = 0;
let bytes = 0;
const places: Place[] = new Array<Place>(DEPTH);
for (let n = 0; n < PIPELINES; n++) {
  if (ORDER === 'stores') {
    for (let i = 0; i < DEPTH; i++) places[i] = queue.later(2, formatSetOk, (i * 7 + n) % STORES);
    for (let s = 0; s < STORES; s++)
      for (let i = 0; i < DEPTH; i++)
        if ((i * 7 + n) % STORES === s) places[i]!.onReply(ST_DONE, ++seq, empty);
  } else {
    for (let i = 0; i < DEPTH; i++) places[i] = queue.later(2, formatGet);
    for (let i = 0; i < DEPTH; i++) places[i]!.onReply(ST_VALUE, 0, value);
  }
  bytes += queue.out.length;
  queue.out.view();
  queue.out.release(false);
}
process.stdout.write(`${bytes} ${lastWrites.size}\n`);
