/**
 * RESP SCAN and KEYS over large values: the store pages they read are bounded in bytes
 * (SCAN_PAGE_BYTES, src/storage/store.ts), so a page of 1 MB values ends after a few keys, long
 * before COUNT; the cursor then goes on from the page's last key instead of taking the short page
 * for the end of the store (which skipped every key after it). Every key is listed exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { respOf } from '../helpers/resp.js';
import { encode, splitReplies, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** bulkArray reads a RESP2 array of bulk strings starting at `at` of `t`; returns the items and where it ends. */
function bulkArray(t: string, at: number): { items: string[]; end: number } {
  let p = t.indexOf('\r\n', at);
  const n = Number(t.slice(at + 1, p));
  p += 2;
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = t.indexOf('\r\n', p);
    const len = Number(t.slice(p + 1, e));
    items.push(t.slice(e + 2, e + 2 + len));
    p = e + 2 + len + 2;
  }
  return { items, end: p };
}

describe('RESP SCAN and KEYS over values of 1 MB', () => {
  it('lists every key once although each store page holds only a few of them', async () => {
    const w = await Wire.open(respOf(A));
    const want: string[] = [];
    const big = Buffer.alloc(1_000_000, 0x61);
    for (let i = 0; i < 14; i++) want.push(`{big}k${String(i).padStart(2, '0')}`);
    for (let i = 0; i < 30; i++) want.push(`{big}s${String(i).padStart(2, '0')}`);
    for (const k of want) w.socket.write(encode(['SET', k, k.includes('k') ? big : 'small']));
    const sets = splitReplies(await w.replies(want.length, 60000));
    assert.deepEqual(sets, Array<string>(want.length).fill('+OK\r\n'));

    const seen: string[] = [];
    let cursor = '0';
    let calls = 0;
    do {
      w.received = Buffer.alloc(0);
      w.socket.write(encode(['SCAN', cursor, 'MATCH', '{big}*', 'COUNT', '1000']));
      const text = await w.replies(1, 30000);
      const outer = text.indexOf('\r\n') + 2; // after "*2"
      const c = text.indexOf('\r\n', outer);
      const len = Number(text.slice(outer + 1, c));
      cursor = text.slice(c + 2, c + 2 + len);
      seen.push(...bulkArray(text, c + 2 + len + 2).items);
      calls++;
    } while (cursor !== '0' && calls < 100);
    assert.equal(cursor, '0', 'the scan ended');
    assert.ok(calls > 2, `a page of 1 MB values ends early (${calls} calls)`);
    assert.deepEqual([...seen].sort(), [...want].sort(), 'every key exactly once');

    w.received = Buffer.alloc(0);
    w.socket.write(encode(['KEYS', '{big}*']));
    const keys = bulkArray(await w.replies(1, 30000), 0).items;
    assert.deepEqual(keys.sort(), [...want].sort());
    w.close();
  });
});
