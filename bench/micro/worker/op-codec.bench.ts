/**
 * Measures: the request-batch codec between the front door and a shard worker
 * (src/worker/op-codec.ts), for a batch of 50 GET requests with 16-byte ASCII keys: encoding it with
 * `RequestWriter.add` x50 plus `take()` (which allocates the next batch buffer), and decoding it
 * with a `RequestReader` walked to the end, reading every field.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { RequestReader, RequestWriter } from '../../../src/worker/op-codec.js';
import { OP_GET } from '../../../src/worker/op-format.js';
import { printHeader } from '../header.js';

printHeader('worker/op-codec');
const BATCH = 50;
const keys = Array.from({ length: BATCH }, (_, i) => `key:${String(i * 7919).padStart(12, '0')}`);
const writer = new RequestWriter();
let id = 0;

function encode(): { buffer: ArrayBuffer; length: number } {
  for (const key of keys) writer.add(id++ >>> 0, OP_GET, 0, key, undefined);
  return writer.take();
}

const batch = encode();

bench('RequestWriter: encode 50 GETs + take()', () => {
  do_not_optimize(encode());
});
bench('RequestReader: decode 50 GETs', () => {
  const r = new RequestReader(batch.buffer, batch.length);
  let sum = 0;
  while (r.next()) sum += r.id + r.op + r.store + r.key.length + r.value.length;
  do_not_optimize(sum);
});

await run();
