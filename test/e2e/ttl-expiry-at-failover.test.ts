/**
 * Expiries due while the leader moves (docs/api.md, "TTL": "An expiry due while a failover fence
 * holds the leader's writes is logged when the fence is released (or by the new leader)"; docs/watch.md):
 * KEYS keys whose expiry instants (`expiresAtMs`) are spread over the few seconds in which
 * `distkv failover --to` runs A → B, then B → C. Once all have run out: no member serves any of
 * them, and a watch opened before the writes yields for each key its put and exactly one `expire`
 * (none lost to the switch, none logged by both the old and the new leader).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WatchChange } from '../../src/client/watch.js';
import { dumpAt, failoverTo, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

const PREFIX = 'xf:';
const KEYS = 300;
/** SPREAD_MS is the span the expiries are spread over, starting LEAD_MS after the writes. */
const SPREAD_MS = 4000;
const LEAD_MS = 1000;

describe('expiries due while the leader moves', () => {
  it(
    'are each logged once, by one leader, and no member serves them after',
    { timeout: 120_000 },
    async (c) => {
      const t = await Trio.start('ttl-expiry-at-failover');
      after(() => t.stop());
      await t.cluster.following();
      const events: WatchChange[] = [];
      const stopper = new AbortController();
      const watched = (async () => {
        for await (const ev of t.client.watch(PREFIX, { signal: stopper.signal })) events.push(ev);
      })().catch((err: unknown) => {
        if (!stopper.signal.aborted) throw err;
      });
      await sleep(500);
      const start = Date.now() + LEAD_MS;
      // A put applied once its expiry has passed is logged as the delete it is (docs/api.md,
      // "TTL"), so a key whose put was acknowledged after its expiry may show a `delete` (on a
      // loaded machine the first puts can take longer than LEAD_MS); one acknowledged before it,
      // never.
      const lateAcks = new Set<string>();
      await Promise.all(
        Array.from({ length: KEYS }, async (_, i) => {
          const expiresAtMs = start + Math.floor((i * SPREAD_MS) / KEYS);
          await t.client.put(`${PREFIX}${i}`, `v${i}`, { expiresAtMs, w: 2, timeoutMs: 5000 });
          if (Date.now() >= expiresAtMs) lateAcks.add(`${PREFIX}${i}`);
        }),
      );
      await failoverTo(t.B);
      await failoverTo(t.C);
      await sleep(Math.max(0, start + SPREAD_MS - Date.now()) + 1000);
      for (const m of t.members) {
        const left = [...(await dumpAt(m)).keys()].filter((k) => k.startsWith(PREFIX));
        assert.deepEqual(left, [], `${m} serves expired keys`);
      }
      const counts = new Map<string, number>();
      await waitFor(
        'an expire event for every key',
        () => {
          counts.clear();
          for (const ev of events)
            if (ev.type === 'expire' || ev.type === 'delete')
              counts.set(ev.key ?? '', (counts.get(ev.key ?? '') ?? 0) + 1);
          return Promise.resolve(counts.size === KEYS);
        },
        20_000,
      ).catch(() => undefined);
      await sleep(1000);
      stopper.abort();
      await watched;
      const missing = Array.from({ length: KEYS }, (_, i) => `${PREFIX}${i}`).filter((k) => !counts.has(k));
      const twice = [...counts].filter(([, n]) => n !== 1);
      const types = new Set(
        events.filter((e) => e.type === 'delete' && !lateAcks.has(e.key ?? '')).map((e) => e.key),
      );
      c.diagnostic(`${lateAcks.size} of ${KEYS} puts were acknowledged after their expiry`);
      assert.deepEqual(
        { missing, twice, deletes: [...types] },
        { missing: [], twice: [], deletes: [] },
        'each key expired once, as an expire event',
      );
    },
  );
});
