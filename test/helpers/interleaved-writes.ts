/**
 * Writing several connections' byte streams in random pieces, connections interleaved, with short
 * pauses now and then so that the server reads the pieces separately: what the shared-read tests
 * (one read buffer per listener, src/server/shared-read.ts) use to split requests at every kind of
 * boundary while other connections' reads land in between.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** writeInterleaved writes `streams[c]` to `sockets[c]` whole, in pieces of 1..maxPiece bytes. */
export async function writeInterleaved(
  sockets: Socket[],
  streams: Buffer[],
  rnd: () => number,
  maxPiece: number,
): Promise<void> {
  const offsets = streams.map(() => 0);
  for (let step = 0; step < 5000 && offsets.some((o, c) => o < streams[c]!.length); step++) {
    const c = Math.floor(rnd() * streams.length);
    const s = streams[c]!;
    if (offsets[c]! >= s.length) continue;
    const n = 1 + Math.floor(rnd() * maxPiece);
    sockets[c]!.write(s.subarray(offsets[c], offsets[c]! + n));
    offsets[c]! += n;
    if (rnd() < 0.3) await sleep(1);
  }
  for (let c = 0; c < streams.length; c++) sockets[c]!.write(streams[c]!.subarray(offsets[c]));
}

/** taggedText returns `n` characters that differ per tag and position, so a byte from elsewhere shows. */
export function taggedText(tag: string, n: number): string {
  let s = '';
  while (s.length < n) s += `${tag}:${s.length};`;
  return s.slice(0, n);
}
