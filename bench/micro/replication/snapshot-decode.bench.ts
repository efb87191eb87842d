/**
 * Measures: a replica's SnapshotDecoder (src/replication/snapshot-format.ts) decoding a snapshot
 * stream fed in 64 KiB pieces (an HTTP body's chunks): one 1 MiB value and one 16 MiB value (how
 * often a large value's bytes are copied while its pieces arrive), and 10,000 entries of 100-byte
 * values (the common case, which must not get slower).
 */
import { bench, do_not_optimize, run } from 'mitata';
import {
  encodeSnapshotEntries,
  encodeSnapshotEnd,
  encodeSnapshotHeader,
  SnapshotDecoder,
  snapshotCrc,
} from '../../../src/replication/snapshot-format.js';
import { printHeader } from '../header.js';

const PIECE = 64 * 1024;

/** piecesOf returns a snapshot of `entries` cut into PIECE-byte pieces. */
function piecesOf(entries: { key: Buffer; value: Buffer }[]): Buffer[] {
  const body = Buffer.concat([encodeSnapshotHeader(1), encodeSnapshotEntries(entries, true)]);
  const stream = Buffer.concat([body, encodeSnapshotEnd(1, snapshotCrc(body, 0))]);
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += PIECE) out.push(stream.subarray(at, at + PIECE));
  return out;
}

printHeader('replication/snapshot-decode (64 KiB pieces)');
const cases = [
  { name: 'one 1 MiB value', pieces: piecesOf([{ key: Buffer.from('k'), value: Buffer.alloc(1 << 20, 1) }]) },
  {
    name: 'one 16 MiB value',
    pieces: piecesOf([{ key: Buffer.from('k'), value: Buffer.alloc(16 << 20, 1) }]),
  },
  {
    name: '10,000 entries of 100 B',
    pieces: piecesOf(
      Array.from({ length: 10_000 }, (_, i) => ({
        key: Buffer.from(`key:${i}`),
        value: Buffer.alloc(100, i),
      })),
    ),
  },
];

for (const c of cases)
  bench(`decode ${c.name}`, () => {
    const d = new SnapshotDecoder();
    let n = 0;
    for (const p of c.pieces) n += d.push(p).length;
    do_not_optimize(n);
  });

await run();
