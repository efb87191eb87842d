/**
 * distkv's HTTP API against careless and hostile clients (docs/api.md, "Query parameters" and
 * "HTTP/1.1"): query parameters that are unknown, repeated, empty or malformed; chunked bodies
 * that declare more than the value limit; `Expect: 100-continue` on a request that will be
 * refused; bodies cut off mid-way; keys at and over the size limit and odd percent-encodings.
 * A spawned server hosts node A (leaders of shards 0 and 1) and B (their replicas).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { keyInShard as firstKeyInShard, startHostedPair } from '../helpers/hosted-pair.js';
import { parseRaw, rawRequest } from '../helpers/raw-http.js';
import { exchange } from './http-raw-wire.js';

let A = '';
let portA = 0;
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

const MAX_VALUE = 4096;

/** localKey returns a key with `prefix` in shard 0 (hosted here). */
const localKey = (prefix: string): string => firstKeyInShard(shardMap, 0, prefix);

/**
 * hostedPath returns the first `make(i)` (a percent-encoded key) whose key a shard hosted here
 * owns (shard 2's owner is not running).
 */
function hostedPath(make: (i: number) => string): string {
  for (let i = 0; ; i++) {
    const path = make(i);
    const bytes = Buffer.from(
      path.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    );
    if (shardMap.shardOfSlot(slotOfBytes(bytes)) !== 2) return path;
  }
}

before(async () => {
  ({ A, portA, shardMap, stop } = await startHostedPair(`[server]\nmax_value_bytes = ${MAX_VALUE}\n`));
});

after(() => stop());

/** errorOf returns the status and error code of a response. */
async function errorOf(r: Response): Promise<[number, string, string]> {
  const body = (await r.json()) as { error?: { code: string; message: string } };
  return [r.status, body.error?.code ?? '', body.error?.message ?? ''];
}

const put = (path: string, body = 'v'): Promise<Response> =>
  fetch(`http://${A}${path}`, { method: 'PUT', body });

describe('query parameters of the native API', () => {
  it('refuses a repeated, unknown, empty or malformed parameter with 400 naming it, writing nothing', async () => {
    const key = localKey('q-');
    for (const [query, pattern] of [
      ['w=1&w=2', /w is given twice/],
      ['ttl_ms=1000&ttl_ms=5', /ttl_ms is given twice/],
      ['ttl=1000', /unknown query parameter "ttl"; this endpoint takes w, timeout_ms, ttl_ms/],
      ['W=1', /unknown query parameter "W"/],
      ['w=', /w is empty/],
      ['timeout_ms=', /timeout_ms is empty/],
      ['w=%zz', /w has invalid percent-encoding/],
      ['ttl_ms=%zz', /ttl_ms has invalid percent-encoding/],
      ['w=1.5', /w must be an integer in 0\.\.1, got "1\.5"/],
      ['w=99999999999999999999', /got "99999999999999999999"/],
      ['ttl_ms=-1', /ttl_ms must be an integer/],
    ] as const) {
      const [status, code, message] = await errorOf(await put(`/kv/${key}?${query}`));
      assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], query);
      assert.match(message, pattern, query);
    }
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404, 'no refused PUT was written');
    // A GET takes w and timeout_ms (a read concern), bounded as a write's.
    for (const query of ['max_lag_ms=', 'max_lag_ms=1&max_lag_ms=2', 'w=2', 'w=1&timeout_ms=0', 'prefix=a']) {
      const [status, code] = await errorOf(await fetch(`http://${A}/kv/${key}?${query}`));
      assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], `GET ?${query}`);
    }
    for (const query of ['ttl_ms=5', 'w=0&w=0']) {
      const r = await fetch(`http://${A}/kv/${key}?${query}`, { method: 'DELETE' });
      assert.equal(r.status, 400, `DELETE ?${query}`);
    }
    for (const query of ['limit=5&limit=7', 'bogus=1', 'limit=', 'prefix=%zz', 'leader=true', 'local=yes']) {
      const [status, code] = await errorOf(await fetch(`http://${A}/kv?${query}`));
      assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], `scan ?${query}`);
    }
    for (const query of ['atomic=1', 'local=true']) {
      const batch = await fetch(`http://${A}/kv/_batch?${query}`, { method: 'POST', body: '[]' });
      assert.deepEqual((await errorOf(batch)).slice(0, 2), [400, 'INVALID_ARGUMENT'], `batch ?${query}`);
    }
  });

  it('refuses a fence whose query is misspelt, repeated or incomplete, holding nothing', async () => {
    const key = localKey('fence-');
    const fence = (query: string): Promise<Response> =>
      fetch(`http://${A}/_admin/fence?${query}`, { method: 'POST' });
    // `om=0` for `on=0`: read loosely, the shard's writes were held for a minute, not released.
    try {
      for (const [query, pattern] of [
        ['shard=0&om=0', /unknown query parameter "om"/],
        ['shard=0', /on is missing/],
        ['on=0', /shard is missing/],
        ['shard=0&on=0&on=1', /on is given twice/],
        ['shard=0&on=yes', /on must be an integer in 0\.\.1/],
      ] as const) {
        const [status, code, message] = await errorOf(await fence(query));
        assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], query);
        assert.match(message, pattern, query);
        assert.equal((await put(`/kv/${key}`)).status, 204, `writes not held after ?${query}`);
      }
    } finally {
      // A fence taken by a refused request would hold shard 0 for the tests after this one.
      await fence('shard=0&on=0');
    }
    const held = await fence('shard=0&on=1&ms=60000');
    assert.equal(held.status, 200, await held.text());
    assert.equal((await put(`/kv/${key}`)).status, 503, 'held');
    assert.equal((await fence('shard=0&on=0')).status, 200);
    assert.equal((await put(`/kv/${key}`)).status, 204, 'released');
  });

  it('takes every documented parameter once, empty pairs, and an empty prefix', async () => {
    const key = localKey('q-ok-');
    assert.equal((await put(`/kv/${key}?w=0&timeout_ms=100&ttl_ms=600000&`)).status, 204);
    assert.equal((await fetch(`http://${A}/kv/${key}?max_lag_ms=1000`)).status, 200);
    assert.equal((await fetch(`http://${A}/kv?prefix=&limit=1&encoding=base64&local=1`)).status, 200);
    assert.equal((await fetch(`http://${A}/kv/${key}?w=0`, { method: 'DELETE' })).status, 204);
  });

  it("leaves the seed's endpoints as Go reads them: the first value wins, unknown ones are ignored", async () => {
    const key = localKey('seed-');
    assert.equal((await fetch(`http://${A}/set?key=${key}&value=one&value=two&extra=1`)).status, 200);
    assert.equal(await (await fetch(`http://${A}/get?key=${key}&key=other`)).text(), 'Value: one');
  });
});

describe('bodies and heads', () => {
  it('refuses a chunk size over the value limit with 413 before its data arrives, writing nothing', async () => {
    const key = localKey('chunk-');
    const r = await exchange(
      portA,
      `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\nffffff\r\n`,
      { count: 1, timeoutMs: 10000, lingerMs: 3000 },
    );
    assert.equal(r.responses[0]?.status, 413, 'answered without the chunk data');
    assert.match(r.responses[0].body.toString(), /VALUE_TOO_LARGE.*at least 16777231 bytes; limit is 4096/);
    assert.equal(r.closed, true);
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404);
  });

  it('answers Expect: 100-continue on a request it refuses with the refusal, never 100 Continue', async () => {
    const key = localKey('expect-');
    for (const [target, length, status] of [
      [`/kv/${key}`, MAX_VALUE + 1, 413],
      [`/kv/${key}?ttl=5`, 10, 400],
      ['/kv/', 10, 400],
    ] as const) {
      const text = await rawRequest(
        portA,
        `PUT ${target} HTTP/1.1\r\nHost: t\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`,
        { idleMs: 1000 },
      );
      assert.doesNotMatch(text, /100 Continue/, target);
      assert.equal(parseRaw(text).status, status, target);
    }
  });

  it('answers 413 for a Content-Length of digits too large to read exactly, as for any over the limit; 400 for one not digits', async () => {
    const key = localKey('huge-length-');
    for (const [length, status, pattern] of [
      ['9999999999', 413, /VALUE_TOO_LARGE.*value is 9999999999 bytes; limit is 4096/],
      [
        '99999999999999999999',
        413,
        /VALUE_TOO_LARGE.*value is at least 9007199254740991 bytes; limit is 4096/,
      ],
      ['18446744073709551615', 413, /VALUE_TOO_LARGE.*at least 9007199254740991 bytes/],
      ['-1', 400, /is not a decimal number of bytes/],
      ['99999999999999999999x', 400, /is not a decimal number of bytes/],
    ] as const) {
      const r = parseRaw(
        await rawRequest(portA, `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\nContent-Length: ${length}\r\n\r\n`, {
          idleMs: 1000,
        }),
      );
      assert.equal(r.status, status, length);
      assert.match(r.body, pattern, length);
    }
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404);
  });

  it('writes nothing of a large body whose client leaves half-way, and keeps serving', async () => {
    const key = localKey('half-');
    const part = 'x'.repeat(500);
    await rawRequest(
      portA,
      `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\nContent-Length: ${MAX_VALUE}\r\n\r\n${part.repeat(6)}`,
      { destroyAfterWrite: true },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404);
    assert.equal((await fetch(`http://${A}/healthz`)).status, 200);
  });

  it('answers OPTIONS * and absolute-form targets, and refuses the target * for GET', async () => {
    const key = localKey('abs-');
    assert.equal((await put(`/kv/${key}`, 'abs')).status, 204);
    const r = await exchange(
      portA,
      `OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\nGET http://elsewhere/kv/${key} HTTP/1.1\r\nHost: t\r\n\r\nGET * HTTP/1.1\r\nHost: t\r\n\r\n`,
      { count: 3 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200, 400],
    );
    assert.equal(r.responses[1]?.body.toString(), 'abs');
  });
});

describe('keys in paths', () => {
  it('takes keys of 1..max_key_bytes bytes after percent-decoding, and refuses empty and longer ones', async () => {
    const euro = '%E2%82%AC'; // 3 bytes
    const at = hostedPath((i) => `${euro.repeat(341)}${String.fromCharCode(97 + (i % 26))}`); // 1024 bytes
    assert.equal((await put(`/kv/${at}`)).status, 204);
    assert.equal(await (await fetch(`http://${A}/kv/${at}`)).text(), 'v');
    const [status, code, message] = await errorOf(await put(`/kv/${at}b`));
    assert.deepEqual([status, code], [400, 'INVALID_KEY']);
    assert.match(message, /1025 bytes; limit is 1024/);
    assert.deepEqual((await errorOf(await put('/kv/'))).slice(0, 2), [400, 'MISSING_KEY']);
  });

  it('decodes %2F and %00 into the key, keeps overlong UTF-8 as its own bytes, and names a bad %', async () => {
    const slash = hostedPath((i) => `pe${i}%2Fslash`);
    assert.equal((await put(`/kv/${slash}`, 'slash')).status, 204);
    assert.equal(await (await fetch(`http://${A}/kv/${slash.replace('%2F', '/')}`)).text(), 'slash');
    const nul = hostedPath((i) => `pe${i}%00nul`);
    assert.equal((await put(`/kv/${nul}`, 'nul')).status, 204);
    assert.equal(await (await fetch(`http://${A}/kv/${nul}`)).text(), 'nul');
    const cut = nul.slice(0, nul.indexOf('%'));
    const r = await fetch(`http://${A}/kv/${cut}`, { redirect: 'manual' });
    assert.notEqual(r.status, 200, '%00 does not end the key');
    const overlong = hostedPath((i) => `pe${i}%C0%AFx`);
    assert.equal((await put(`/kv/${overlong}`, 'overlong')).status, 204);
    const asSlash = await fetch(`http://${A}/kv/${overlong.replace('%C0%AF', '/')}`, { redirect: 'manual' });
    assert.notEqual(asSlash.status, 200, 'an overlong "/" is not "/"');
    assert.equal(await (await fetch(`http://${A}/kv/${overlong}`)).text(), 'overlong');
    const [status, code, message] = await errorOf(await put('/kv/pe%zz'));
    assert.deepEqual([status, code], [400, 'INVALID_KEY']);
    assert.match(message, /"%" not followed by two hex digits/);
  });
});
