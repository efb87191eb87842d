/**
 * Measures: what a record ladder (src/replication/record-ladder.ts) costs, once per replica
 * (re)connect, on an LSM store of 100,000 records of 100 B written in batches of 500 (its recent
 * 8 MiB of log in memory, the older part read from the commit log's segments): the leader's
 * answerPull of a caught-up replica's first pull without a ladder and with one (19 entries, each a
 * log read), the same ladder with every crc other than the leader's (a restored leader's fork),
 * a hostile ladder as the pull route takes it (parseLadder, then answerPull): 64 entries spread over
 * the whole log, each the leader's own crc, so none decides early (pulls need no token); and
 * buildLadder, the replica's side (the same reads of its own log).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run } from 'mitata';
import { answerPull, type PullLeader } from '../../../src/replication/pull-answer.js';
import {
  buildLadder,
  crcAt,
  encodeLadder,
  MAX_LADDER_ENTRIES,
  parseLadder,
} from '../../../src/replication/record-ladder.js';
import { openLsmStore } from '../../../src/storage/lsm-recovery.js';
import { benchLsmOptions } from '../../lib/lsm-options.js';
import { printHeader } from '../header.js';

const RECORDS = 100_000;
const BATCH = 500;

printHeader(`replication/ladder-fork (${String(RECORDS)} records of 100 B, batches of ${String(BATCH)})`);
const dir = mkdtempSync(join(tmpdir(), 'distkv-ladder-bench-'));
const store = await openLsmStore(benchLsmOptions(dir, 'none'));
const value = Buffer.alloc(100, 0x76);
for (let i = 0; i < RECORDS; i += BATCH) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < i + BATCH; j++) batch.push(store.put(Buffer.from(`key${String(j)}`), value));
  await Promise.all(batch);
}
const repl = store.replication;
const last = repl.lastSeq();
const ladder = buildLadder(repl, last)!;
const forked = ladder.map((e) => ({ seq: e.seq, crc: (e.crc + 1) >>> 0 }));
const spread = Array.from({ length: MAX_LADDER_ENTRIES }, (_, i) => {
  const seq = last - Math.floor((i * (last - 1)) / (MAX_LADDER_ENTRIES - 1));
  return { seq, crc: crcAt(repl, seq) ?? 0 };
});
const hostile = encodeLadder(spread);
const leader: PullLeader = {
  name: 'store 0',
  store: () => repl,
  epochs: () => ({ epoch: 0, history: [] }),
  ack: () => undefined,
};
const pull = { after: last, maxBytes: 1 << 20, waitMs: 0, replica: '127.0.0.1:2', epoch: 0 };
console.log(`ladder of ${String(ladder.length)} entries at seq ${String(last)}`);

bench('answerPull, caught up, no ladder', async () => {
  do_not_optimize(await answerPull(leader, pull));
});
bench(`answerPull, caught up, ladder of ${String(ladder.length)}`, async () => {
  do_not_optimize(await answerPull(leader, { ...pull, ladder }));
});
bench(`answerPull, ladder of ${String(ladder.length)}, every crc differs`, async () => {
  do_not_optimize(await answerPull(leader, { ...pull, ladder: forked }));
});
bench(`parse + answerPull, hostile ${String(spread.length)} entries spread`, async () => {
  try {
    do_not_optimize(await answerPull(leader, { ...pull, ladder: parseLadder(hostile, last) }));
  } catch (err) {
    do_not_optimize(err);
  }
});
bench('buildLadder (the replica’s side)', () => {
  do_not_optimize(buildLadder(repl, last));
});

await run();
await store.close();
rmSync(dir, { recursive: true, force: true });
