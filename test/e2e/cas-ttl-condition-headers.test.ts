/**
 * A write that takes no If-Match / If-None-Match header refuses one (docs/api.md, "Versions"): the
 * seed's `/set` and `POST /kv/_batch` (whose conditions go per operation) ignored it, so a client
 * that sent its write as a compare-and-set (`If-Match: "E.S"`, or `If-None-Match: *` to create a
 * lock) overwrote whatever the key held, a lock held by another client included. Each is now a
 * 400 naming the header, and the key is as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyInShard, startHostedPair, type HostedPair } from '../helpers/hosted-pair.js';

let pair: HostedPair | undefined;

before(async () => {
  pair = await startHostedPair();
});

after(async () => {
  await pair?.stop();
});

/** held writes `value` to a fresh key of shard 0 (a lock another client holds) and returns the key. */
async function held(prefix: string, value: string): Promise<string> {
  const key = keyInShard(pair!.shardMap, 0, prefix);
  const r = await fetch(`http://${pair!.A}/kv/${key}`, {
    method: 'PUT',
    body: value,
    headers: { 'If-None-Match': '*' },
  });
  assert.equal(r.status, 204);
  return key;
}

async function valueOf(key: string): Promise<string> {
  const r = await fetch(`http://${pair!.A}/kv/${key}`);
  assert.equal(r.status, 200);
  return r.text();
}

describe('condition headers on writes that take none', () => {
  for (const [header, value] of [
    ['If-None-Match', '*'],
    ['If-Match', '"0.1"'],
  ] as const) {
    it(`refuses /set with ${header}, the held key unchanged`, async () => {
      const key = await held(`set-${header}-`, 'holder');
      const r = await fetch(`http://${pair!.A}/set?key=${key}&value=thief`, { headers: { [header]: value } });
      const text = await r.text();
      assert.equal(r.status, 400, text);
      assert.match(text, new RegExp(`${header} is not supported on /set`));
      assert.equal(await valueOf(key), 'holder');
    });

    it(`refuses a batch with ${header}, the held key unchanged`, async () => {
      const key = await held(`batch-${header}-`, 'holder');
      const r = await fetch(`http://${pair!.A}/kv/_batch`, {
        method: 'POST',
        headers: { [header]: value, 'content-type': 'application/json' },
        body: JSON.stringify([{ op: 'set', key, value: 'thief' }]),
      });
      const body = (await r.json()) as { error?: { code: string; message: string } };
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(body.error?.code, 'INVALID_ARGUMENT');
      assert.match(body.error.message, new RegExp(`${header} applies to no operation of a batch`));
      assert.equal(await valueOf(key), 'holder');
    });
  }
});
