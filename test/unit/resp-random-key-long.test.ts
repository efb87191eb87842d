/**
 * RANDOMKEY (src/resp/random-key.ts) over a store whose keys are longer than `max_key_bytes` now: a
 * restart with a lowered limit keeps the keys written before (nothing purges them). The draw
 * descends the keys' byte tree one byte per step, and bounded its steps by `max_key_bytes`: over
 * more than a page of keys sharing a prefix longer than the limit it stopped halfway down and
 * answered nil, as if the store held no key. Its steps are now bounded by the longest key any limit
 * allows (1024 bytes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { drawKey, RANDOM_PAGE_KEYS } from '../../src/resp/random-key.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import { fakeConnection } from '../helpers/fake-resp-connection.js';
import { seededRandom } from '../helpers/random.js';

/** Scan is the part of a scan request the draw sends. */
interface Scan {
  prefix: Uint8Array;
  after: Uint8Array | null;
  limit: number;
}

/** storeOf answers scan requests over `keys` in key order, as a store does. */
function storeOf(keys: readonly string[]): {
  call: (w: number, m: Scan) => Promise<unknown>;
  reads: () => number;
} {
  const sorted = keys.map((k) => Buffer.from(k)).sort((a, b) => Buffer.compare(a, b));
  let reads = 0;
  return {
    reads: () => reads,
    call: (_w, m) => {
      reads++;
      const prefix = Buffer.from(m.prefix);
      const after = m.after === null ? undefined : Buffer.from(m.after);
      const under = sorted.filter(
        (k) =>
          k.subarray(0, prefix.length).equals(prefix) &&
          (after === undefined || Buffer.compare(k, after) > 0),
      );
      const page = under.slice(0, m.limit);
      return Promise.resolve({
        type: 'scan-result',
        entries: page.map((key) => ({ key })),
        more: under.length > page.length,
      });
    },
  };
}

const TARGET = {
  local: true,
  worker: 0,
  store: 0,
  role: 'leader',
  leaderStore: undefined,
} as unknown as LocalTarget;

describe('RANDOMKEY over keys longer than the lowered max_key_bytes', () => {
  it('draws one of them, never nil, from a store of many keys sharing a long prefix', async () => {
    const config = validateConfig(
      { server: { max_key_bytes: 16 }, shards: [{ name: 'shard-0', idx: 0, address: '127.0.0.1:7001' }] },
      '<test>',
    );
    const keys = Array.from(
      { length: 3 * RANDOM_PAGE_KEYS },
      (_, i) => `long-key-${'k'.repeat(31)}-${String(i)}`,
    );
    const store = storeOf(keys);
    const c = fakeConnection({ ctx: { config, pool: store } });
    for (let seed = 1; seed <= 20; seed++) {
      const key = await drawKey(c, [TARGET], seededRandom(seed));
      assert.ok(
        key !== undefined && keys.includes(key.toString()),
        `seed ${String(seed)}: drew ${String(key)}`,
      );
    }
    assert.ok(store.reads() < 20 * 2 * 50, `bounded reads: ${String(store.reads())}`);
  });

  it('draws the longest key any limit allows', async () => {
    const config = validateConfig(
      { server: { max_key_bytes: 1 }, shards: [{ name: 'shard-0', idx: 0, address: '127.0.0.1:7001' }] },
      '<test>',
    );
    const stem = 'x'.repeat(1020);
    const keys = Array.from(
      { length: 2 * RANDOM_PAGE_KEYS },
      (_, i) => `${stem}${String(i).padStart(4, '0')}`,
    );
    const c = fakeConnection({ ctx: { config, pool: storeOf(keys) } });
    const key = await drawKey(c, [TARGET], seededRandom(7));
    assert.ok(key !== undefined && keys.includes(key.toString()), `drew ${String(key?.length)} bytes`);
  });
});
