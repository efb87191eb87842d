/**
 * Measures: one batch through a SharedArrayBuffer ring (src/replication/ring.ts), the path a
 * replica on another worker follows its leader by: `publish` of a 1 KiB batch (about 8 records of
 * 100-byte values) and `take` of it on the other end, in one thread (no wake-up cost), for 1 KiB
 * and 16 KiB batches in an 8 MiB ring.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { ringBytesFor } from '../../../src/replication/ring-format.js';
import { RingConsumer, RingProducer } from '../../../src/replication/ring.js';
import { printHeader } from '../header.js';

printHeader('replication/ring-publish-consume (8 MiB ring)');
const sab = new SharedArrayBuffer(ringBytesFor(8 * 1024 * 1024));
const producer = new RingProducer(sab);
const consumer = new RingConsumer(sab);
let seq = 1;

for (const size of [1024, 16 * 1024]) {
  const batch = Buffer.alloc(size, 7);
  bench(`publish + take, ${size / 1024} KiB batch`, () => {
    producer.publish(batch, seq, seq + 7);
    seq += 8;
    do_not_optimize(consumer.take(1 << 20));
  });
}

await run();
