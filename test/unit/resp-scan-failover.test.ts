/**
 * SCAN across a change of the stores a node serves (src/resp/commands-keyspace.ts): a cursor names
 * a shard and a key, so a scan that goes on after a failover moved a leader away from the node (or
 * to it) still returns every key of the shards it serves throughout. A cursor used to name a place
 * in the list of served stores: once a leader moved away the place named the next store, and the
 * keys left in the store the scan was in were skipped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scan } from '../../src/resp/commands-keyspace.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ScanCursors } from '../../src/resp/scan-cursors.js';
import type { Target } from '../../src/server/node-plan.js';
import type { ShardInfo } from '../../src/routing/shard-map.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const HERE = '127.0.0.1:1';
const ELSEWHERE = '127.0.0.1:2';
const SHARDS = 3;
const KEYS_PER_SHARD = 5;

/** keysOf lists store `s`'s keys, in order. */
const keysOf = (s: number): string[] => Array.from({ length: KEYS_PER_SHARD }, (_, i) => `${s}-${i}`);

/** node is a fake connection on a node leading every shard, whose leaders `moveAway` can take elsewhere. */
function node(): { c: RespConnection; moveAway: (shard: number) => void } {
  const leaders: string[] = Array.from({ length: SHARDS }, () => HERE);
  const local = (s: number): Target => ({
    local: true,
    worker: 0,
    store: s,
    role: 'leader',
    leaderStore: s,
  });
  const writes: Target[] = Array.from({ length: SHARDS }, (_, s) => local(s));
  const c = fakeConnection({
    readonly: false,
    readAtHead: (_p: unknown, read: () => void) => {
      read();
    },
    ctx: {
      cursors: new ScanCursors(),
      plan: { stores: Array.from({ length: SHARDS }, () => ({ node: HERE })) },
      listener: { address: HERE, writes, reads: writes },
      leaderWithoutLease: () => false,
      liveShards: (): ShardInfo[] =>
        leaders.map((address, idx) => ({
          name: `shard-${idx}`,
          idx,
          address,
          replicas: [],
          slots: { first: 0, last: 0 },
        })),
      pool: {
        call: (_worker: number, msg: { store: number; after: Buffer | null; limit: number }) => {
          const after = msg.after?.toString() ?? '';
          const entries = keysOf(msg.store)
            .filter((k) => k > after)
            .slice(0, msg.limit)
            .map((k) => ({ key: Buffer.from(k), value: Buffer.alloc(0), seq: 1 }));
          return Promise.resolve({ type: 'scan-result', entries, more: entries.length === msg.limit });
        },
      },
    },
  });
  return {
    c,
    moveAway: (shard) => {
      leaders[shard] = ELSEWHERE;
      writes[shard] = { local: false, address: ELSEWHERE };
    },
  };
}

/** page runs SCAN `cursor` COUNT `count` and returns the next cursor and the keys. */
async function page(c: RespConnection, cursor: string, count: number): Promise<[string, string[]]> {
  scan(
    c,
    ['SCAN', cursor, 'COUNT', String(count)].map((a) => Buffer.from(a)),
  );
  await new Promise((resolve) => setImmediate(resolve));
  const lines = takeReply(c).split('\r\n');
  assert.equal(lines[0], '*2', lines.join(' | '));
  const keys: string[] = [];
  for (let i = 5; i < lines.length - 1; i += 2) keys.push(lines[i]!);
  return [lines[2]!, keys];
}

describe('SCAN when the stores a node serves change between pages', () => {
  for (const moved of [0, 1, 2])
    for (const afterKeys of [1, 2, 5, 7, 9])
      it(`returns every key of the shards still served when shard ${moved}'s leader moves away after ${afterKeys} keys`, async () => {
        const { c, moveAway } = node();
        const seen: string[] = [];
        let cursor = '0';
        let movedYet = false;
        for (let n = 0; n < 100; n++) {
          const [next, keys] = await page(c, cursor, 2);
          seen.push(...keys);
          if (!movedYet && seen.length >= afterKeys) {
            moveAway(moved);
            movedYet = true;
          }
          cursor = next;
          if (cursor === '0') break;
        }
        assert.equal(cursor, '0', 'the scan ends');
        for (let s = 0; s < SHARDS; s++)
          if (s !== moved)
            for (const k of keysOf(s)) assert.ok(seen.includes(k), `${k} returned (got ${seen.join(' ')})`);
        assert.equal(new Set(seen).size, seen.length, 'no key returned twice');
      });
});
