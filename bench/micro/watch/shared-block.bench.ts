/**
 * Measures: a broadcast's SSE encoding of one feed batch (src/watch/watch-event.ts, sharedBlock:
 * plain events written as text directly) against the per-record JSON path it replaced for them
 * (recordJson, then the frame, then one Buffer), on the watch bench's events: 50 puts of
 * `key<N>` with 100-byte values. Every iteration encodes a fresh batch (both paths cache their
 * encodings on the records and the batch), so making the batch is measured alone too.
 */
import { bench, run } from 'mitata';
import type { LogRecord } from '../../../src/watch/store-log.js';
import { recordJson, sharedBlock } from '../../../src/watch/watch-event.js';
import { printHeader } from '../header.js';

printHeader('watch/shared-block (SSE, 50 puts of 100-byte values)');
const VALUE = Buffer.from('v'.repeat(100));
let seq = 0;

function batch(): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i < 50; i++) {
    seq++;
    out.push({ kind: 'put', seq, key: Buffer.from(`key${String((seq * 7919) % 100000)}`), value: VALUE });
  }
  return out;
}

bench('reference: make the batch', () => batch());

bench('per-record JSON (recordJson, frame, Buffer.from)', () => {
  let text = '';
  for (const r of batch()) text += `event: ${r.kind}\ndata: ${recordJson(r, 1, true, 0)}\n\n`;
  return Buffer.from(text);
});

bench('sharedBlock (plain events as text)', () =>
  sharedBlock(batch(), 1, Buffer.from('key'), true, 'sse', () => 0),
);

await run();
