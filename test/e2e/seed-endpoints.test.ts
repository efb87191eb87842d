/**
 * The seed's /set and /get as a seed user's script meets them, beyond test/e2e/http-api.test.ts:
 *  - their query is read as Go's ParseForm reads it (src/http/seed-form.ts): a percent-encoded byte
 *    that is not UTF-8 is stored and answered as that byte, in a key or a value, and a pair
 *    holding ';' is dropped, as the seed's Go 1.24 server drops it;
 *  - refused before they run (503 SWITCHING_LEADER while a failover fences the shard's leader, or
 *    while a leader has no lease; 503 SLOTS_DISPUTED), they answer in Go's http.Error text like
 *    their other errors (docs/api.md), keeping Retry-After and X-Distkv-Map. Before, these were
 *    the native API's JSON error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard, startHostedPair } from '../helpers/hosted-pair.js';

let A = '';
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, shardMap, stop } = await startHostedPair());
});

after(() => stop());

async function seed(path: string): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`http://${A}${path}`, { redirect: 'manual' });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

describe('seed /set and /get with bytes that are not UTF-8', () => {
  it('store and answer a value of such bytes', async () => {
    const key = keyInShard(shardMap, 0, 'bytes');
    const set = await seed(`/set?key=${key}&value=%FF%FEa`);
    assert.equal(set.status, 200, set.body.toString());
    assert.equal(set.body.toString(), 'Key set successfully on shard 0');
    const got = await seed(`/get?key=${key}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, Buffer.concat([Buffer.from('Value: '), Buffer.from([0xff, 0xfe, 0x61])]));
  });

  it('store a key of such bytes, the same key /kv/ names with the same encoding', async () => {
    // The {hash tag} puts the key in shard 0, which this process leads.
    const tag = keyInShard(shardMap, 0, 'tag');
    const set = await seed(`/set?key=%7B${tag}%7D%FF%00&value=v1`);
    assert.equal(set.status, 200, set.body.toString());
    assert.equal((await seed(`/get?key=%7B${tag}%7D%FF%00`)).body.toString(), 'Value: v1');
    const rest = await fetch(`http://${A}/kv/%7B${tag}%7D%FF%00`);
    assert.equal(rest.status, 200);
    assert.equal(await rest.text(), 'v1');
  });
});

describe("seed /set and /get drop a pair holding ';'", () => {
  it('as a missing key or value', async () => {
    const key = keyInShard(shardMap, 0, 'semi');
    let r = await seed(`/set?key=${key}&value=a;b`);
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), 'Missing key or value\n');
    r = await seed(`/set?key=${key};x&value=1`);
    assert.equal(r.status, 400);
    r = await seed(`/get?key=${key};x`);
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), 'Missing key\n');
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404, 'nothing was stored');
    r = await seed(`/set?key=${key}&value=1&other=;`);
    assert.equal(r.status, 200, 'another pair with a semicolon does not matter');
  });
});

async function fence(on: 0 | 1): Promise<void> {
  const r = await fetch(`http://${A}/_admin/fence?shard=0&on=${on}&ms=60000&by=seed-refusals`, {
    method: 'POST',
  });
  assert.equal(r.status, 200, await r.text());
}

describe('seed endpoints refused during a switch of leader', () => {
  it('answer 503 in text with Retry-After, and the native API in JSON', async () => {
    const key = keyInShard(shardMap, 0, 'fenced');
    await fence(1);
    try {
      const r = await fetch(`http://${A}/set?key=${key}&value=v`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.ok(r.headers.get('x-distkv-map'), 'the live map version is sent');
      assert.equal(await r.text(), "Failed to set key: shard 0's leader is being switched; retry shortly\n");
      const rest = await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v' });
      assert.equal(rest.status, 503);
      assert.equal(rest.headers.get('content-type'), 'application/json');
      assert.equal(((await rest.json()) as { error: { code: string } }).error.code, 'SWITCHING_LEADER');
    } finally {
      await fence(0);
    }
    const r = await fetch(`http://${A}/set?key=${key}&value=v`);
    assert.equal(r.status, 200, 'writes go on once the fence is released');
  });
});
