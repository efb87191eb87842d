/**
 * Compare-and-set against a careless or hostile client (docs/api.md, "Versions" and "Batches with
 * conditions"), on a spawned server: condition headers sent twice or empty, a batch with conditions
 * that writes one key twice, and a 10,000-operation batch whose conditions half fail. Each is
 * refused or answered without writing anything, and the answer stays proportional to the request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard as firstKeyInShard, startHostedPair } from '../helpers/hosted-pair.js';
import { parseRaw, rawRequest } from '../helpers/raw-http.js';

let A = '';
let portA = 0;
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, portA, shardMap, stop } = await startHostedPair());
});

after(() => stop());

interface BatchAnswer {
  results: { ok: boolean; version?: string | null; error?: { code: string; message: string } }[];
  error: { code: string; message: string };
}

async function batch(ops: unknown[]): Promise<{ status: number; body: BatchAnswer; bytes: number }> {
  const r = await fetch(`http://${A}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text) as BatchAnswer, bytes: text.length };
}

async function get(key: string): Promise<{ status: number; value: string; etag: string | null }> {
  const r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`);
  return { status: r.status, value: await r.text(), etag: r.headers.get('etag') };
}

/** rawPut sends a PUT with header lines exactly as given (fetch would join repeated ones). */
async function rawPut(key: string, value: string, headerLines: string[]): Promise<number> {
  const head = [
    `PUT /kv/${encodeURIComponent(key)} HTTP/1.1`,
    'Host: t',
    'Connection: close',
    ...headerLines,
  ];
  const text = await rawRequest(
    portA,
    `${head.join('\r\n')}\r\nContent-Length: ${value.length}\r\n\r\n${value}`,
  );
  return parseRaw(text).status;
}

/** aTag returns a hash tag whose shard node A leads (shards 0 and 1). */
function aTag(prefix: string): string {
  for (let i = 0; ; i++) if (shardMap.shardOf(`{${prefix}${i}}`) !== 2) return `{${prefix}${i}}`;
}

describe('condition headers from a hostile client', () => {
  it('refuses If-Match or If-None-Match sent twice, whatever their order, and writes nothing', async () => {
    const key = firstKeyInShard(shardMap, 0, 'twice');
    assert.equal((await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v1' })).status, 204);
    const before = await get(key);
    for (const lines of [
      ['If-Match: *', 'If-Match: "0.999999"'],
      ['If-Match: "0.999999"', 'If-Match: *'],
      [`If-Match: ${before.etag!}`, `If-Match: ${before.etag!}`],
      ['If-None-Match: *', 'If-None-Match: *'],
    ])
      assert.equal(await rawPut(key, 'v2', lines), 400, lines.join(' + '));
    const now = await get(key);
    assert.equal(now.value, 'v1');
    assert.equal(now.etag, before.etag);
  });

  it('refuses an empty If-Match or If-None-Match instead of writing unconditionally', async () => {
    const key = firstKeyInShard(shardMap, 1, 'empty');
    assert.equal((await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v1' })).status, 204);
    assert.equal(await rawPut(key, 'v2', ['If-Match: ']), 400);
    assert.equal(await rawPut(key, 'v2', ['If-None-Match: ']), 400);
    assert.equal((await get(key)).value, 'v1');
  });
});

describe('conditions that cannot mean what they say', () => {
  it('refuses If-Match with leading zeros (00.05 is no version a node gives), in a header and in a batch', async () => {
    const key = firstKeyInShard(shardMap, 0, 'zeros');
    assert.equal((await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v1' })).status, 204);
    const etag = (await get(key)).etag!;
    const [epoch, seq] = etag.slice(1, -1).split('.') as [string, string];
    const padded = `"0${epoch}.0${seq}"`;
    assert.equal(await rawPut(key, 'v2', [`If-Match: ${padded}`]), 400, padded);
    // A batch operation that asks for a condition makes a batch with conditions, refused whole.
    const r = await batch([{ op: 'set', key, value: 'v2', if_match: padded.slice(1, -1) }]);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'INVALID_ARGUMENT', JSON.stringify(r.body));
    assert.equal((await get(key)).value, 'v1');
  });

  it('refuses If-None-Match: * on a DELETE (delete only if absent deletes nothing), in a header and in a batch', async () => {
    const key = firstKeyInShard(shardMap, 1, 'delabsent');
    assert.equal((await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v' })).status, 204);
    const r = await fetch(`http://${A}/kv/${key}`, { method: 'DELETE', headers: { 'if-none-match': '*' } });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'INVALID_ARGUMENT');
    assert.match(body.error.message, /If-None-Match.*DELETE/);
    const missing = await fetch(`http://${A}/kv/${firstKeyInShard(shardMap, 1, 'never')}`, {
      method: 'DELETE',
      headers: { 'if-none-match': '*' },
    });
    assert.equal(missing.status, 400, 'refused whether or not the key exists');
    const b = await batch([
      { op: 'delete', key, if_none_match: '*' },
      { op: 'set', key: `${key}-other`, value: 'w' },
    ]);
    assert.equal(b.status, 400, JSON.stringify(b.body));
    assert.equal(b.body.error.code, 'INVALID_ARGUMENT', JSON.stringify(b.body));
    assert.match(b.body.error.message, /if_none_match on a delete .* deletes nothing/);
    assert.equal((await get(`${key}-other`)).status, 404, 'the batch is refused whole');
    assert.equal((await get(key)).value, 'v');
  });
});

describe('TTL from a careless client', () => {
  it('refuses ttl_ms on a DELETE instead of ignoring it, and deletes nothing', async () => {
    const key = firstKeyInShard(shardMap, 0, 'delttl');
    assert.equal((await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v' })).status, 204);
    for (const q of ['ttl_ms=5000', 'ttl_ms=abc', 'ttl_ms=']) {
      const r = await fetch(`http://${A}/kv/${key}?${q}`, { method: 'DELETE' });
      assert.equal(r.status, 400, q);
    }
    assert.equal((await get(key)).value, 'v');
  });
});

describe('batches with conditions from a hostile client', () => {
  it('refuses a batch with conditions that writes one key twice, writing nothing', async () => {
    const tag = aTag('dup');
    const r = await batch([
      { op: 'set', key: `${tag}k`, value: '1', if_none_match: '*' },
      { op: 'set', key: `${tag}other`, value: 'x' },
      { op: 'set', key: `${tag}k`, value: '2', if_none_match: '*' },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_ARGUMENT');
    assert.match(r.body.error.message, /ops\[0\] and ops\[2\] both write/);
    assert.equal((await get(`${tag}k`)).status, 404);
    assert.equal((await get(`${tag}other`)).status, 404);
  });

  it('answers a 10,000-operation batch whose conditions half fail in a body proportional to it', async () => {
    const tag = aTag('big');
    const n = 10000;
    // Odd operations need the key to exist (it does not): they fail; even ones would hold.
    const ops = Array.from({ length: n }, (_, i) =>
      i % 2 === 1
        ? { op: 'set', key: `${tag}${i}`, value: 'v', if_match: '*' }
        : { op: 'set', key: `${tag}${i}`, value: 'v', if_none_match: '*' },
    );
    const r = await batch(ops);
    assert.equal(r.status, 200);
    assert.equal(r.body.results.length, n);
    r.body.results.forEach((res, i) => {
      assert.equal(res.ok, false);
      assert.equal(res.error!.code, i % 2 === 1 ? 'PRECONDITION_FAILED' : 'BATCH_ABORTED', `ops[${i}]`);
    });
    assert.ok(r.bytes < 400 * n, `the answer is ${r.bytes} bytes for ${n} operations`);
    assert.match(r.body.results[0]!.error!.message, /ops\[1\], ops\[3\], ops\[5\] and 4997 more/);
    assert.equal((await get(`${tag}0`)).status, 404, 'nothing applied');
  });
});
