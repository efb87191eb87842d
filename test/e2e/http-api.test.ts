/**
 * The HTTP API against a spawned server: two hosted nodes (leader address A, replica address B)
 * for shards 0 and 1, and shard 2 led by a node C this process does not host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard as firstKeyInShard, startHostedPair } from '../helpers/hosted-pair.js';
import { parseRaw, rawRequest } from '../helpers/raw-http.js';

let A = '';
let B = '';
let C = '';
let portA = 0;
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

const keyInShard = (shard: number, prefix = 'key'): string => firstKeyInShard(shardMap, shard, prefix);

before(async () => {
  ({ A, B, C, portA, shardMap, stop } = await startHostedPair(
    '[server]\ntoken = "sekrit"\nmax_value_bytes = 4096\n',
  ));
});

after(() => stop());

describe('seed-compatible endpoints', () => {
  it("answer with the seed's exact texts and status codes", async () => {
    const key = keyInShard(1);
    let r = await fetch(`http://${A}/set?key=${key}&value=John%20Doe`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'Key set successfully on shard 1');
    r = await fetch(`http://${A}/get?key=${key}`);
    assert.equal(await r.text(), 'Value: John Doe');
    r = await fetch(`http://${A}/get?key=${keyInShard(0, 'absent')}`);
    assert.equal(r.status, 404);
    assert.equal(await r.text(), 'Error: Key not found\n');
    r = await fetch(`http://${A}/get`);
    assert.equal(r.status, 400);
    assert.equal(await r.text(), 'Missing key\n');
    r = await fetch(`http://${A}/set?key=a`);
    assert.equal(r.status, 400);
    assert.equal(await r.text(), 'Missing key or value\n');
    r = await fetch(`http://${A}/healthz`);
    assert.equal(await r.text(), 'ok');
  });

  it("decode '+' as a space in /set, as Go's ParseForm does", async () => {
    const key = keyInShard(0, 'plus');
    await fetch(`http://${A}/set?key=${key}&value=a+b`);
    assert.equal(await (await fetch(`http://${A}/get?key=${key}`)).text(), 'Value: a b');
  });

  it('/purge requires the token when one is configured and removes nothing this node owns', async () => {
    const key = keyInShard(0, 'keep');
    await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v' });
    let r = await fetch(`http://${A}/purge`);
    assert.equal(r.status, 401);
    r = await fetch(`http://${A}/purge`, { headers: { Authorization: 'Bearer sekrit' } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'Extra keys deleted successfully');
    assert.equal(await (await fetch(`http://${A}/kv/${key}`)).text(), 'v');
  });
});

describe('REST API', () => {
  it('PUT, GET and DELETE a binary value', async () => {
    const key = keyInShard(0, 'bin/');
    const value = Buffer.from([0, 1, 2, 255, 254]);
    let r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
    assert.equal(r.status, 204);
    r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), value);
    r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`, { method: 'DELETE' });
    assert.equal(r.status, 204);
    r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: { code: 'NOT_FOUND', message: 'key not found' } });
  });

  it('serves reads at the replica address from the replica store, with X-Distkv-Lag', async () => {
    const key = keyInShard(1, 'lag');
    await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'x' });
    const r = await fetch(`http://${B}/kv/${key}`);
    await r.arrayBuffer();
    assert.ok(r.headers.has('x-distkv-lag'), 'a replica read carries its lag');
    const leaderRead = await fetch(`http://${A}/kv/${key}`);
    assert.equal(leaderRead.headers.has('x-distkv-lag'), false, 'a leader read does not');
  });

  it('routes writes sent to the replica address to the leader', async () => {
    const key = keyInShard(0, 'viaB');
    const r = await fetch(`http://${B}/kv/${key}`, { method: 'PUT', body: 'from-b' });
    assert.equal(r.status, 204);
    assert.equal(await (await fetch(`http://${A}/kv/${key}`)).text(), 'from-b');
  });

  it('redirects with 307 to the owner of a shard hosted by another process', async () => {
    const key = keyInShard(2, 'remote');
    for (const [method, path] of [
      ['GET', `/kv/${key}`],
      ['PUT', `/kv/${key}?x=1`],
      ['DELETE', `/kv/${key}`],
      ['GET', `/get?key=${key}`],
    ] as const) {
      const r = await fetch(`http://${A}${path}`, {
        method,
        redirect: 'manual',
        ...(method === 'PUT' ? { body: 'v' } : {}),
      });
      assert.equal(r.status, 307, `${method} ${path}`);
      assert.equal(r.headers.get('location'), `http://${C}${path}`);
      const body = (await r.json()) as { redirect: { shard: number; owner: string } };
      assert.equal(body.redirect.shard, 2);
      assert.equal(body.redirect.owner, C);
    }
  });

  it('scans a prefix in key order across the hosted shards with a next cursor (local=1: this node only)', async () => {
    for (let i = 0; i < 30; i++)
      await fetch(`http://${A}/set?key=scan:${String(i).padStart(2, '0')}&value=v${i}`).catch(
        () => undefined,
      );
    // keys of shard 2 redirect and are not stored here; collect what is local
    const local = Array.from({ length: 30 }, (_, i) => `scan:${String(i).padStart(2, '0')}`).filter(
      (k) => shardMap.shardOf(k) !== 2,
    );
    let r = await fetch(`http://${A}/kv?prefix=scan:&limit=5&local=1`);
    let page = (await r.json()) as {
      items: { key: string; value: string }[];
      next: string | null;
      partial?: boolean;
      missing_shards?: number[];
    };
    assert.deepEqual(
      page.items.map((i) => i.key),
      local.slice(0, 5),
    );
    assert.equal(page.next, local[4]);
    assert.equal(page.partial, true);
    assert.deepEqual(page.missing_shards, [2]);
    const seen = [...page.items.map((i) => i.key)];
    while (page.next !== null) {
      r = await fetch(`http://${A}/kv?prefix=scan:&limit=5&local=1&after=${encodeURIComponent(page.next)}`);
      page = (await r.json()) as typeof page;
      seen.push(...page.items.map((i) => i.key));
    }
    assert.deepEqual(seen, local);
  });

  it('answers a scan whose remote owner is down with 503 SHARD_UNREACHABLE naming the shard, and the partial page', async () => {
    const r = await fetch(`http://${A}/kv?prefix=scan:&limit=50`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as {
      error: { code: string; message: string };
      partial: { items: unknown[] };
    };
    assert.equal(body.error.code, 'SHARD_UNREACHABLE');
    assert.match(body.error.message, new RegExp(`shard 2 \\(owner ${C.replaceAll('.', '\\.')}`));
    assert.ok(body.partial.items.length > 0);
  });

  it('applies a batch per shard in order and reports one result per operation', async () => {
    const k0 = keyInShard(0, 'batch');
    const k2 = keyInShard(2, 'batch');
    const kb = keyInShard(1, 'b64');
    const r = await fetch(`http://${A}/kv/_batch`, {
      method: 'POST',
      body: JSON.stringify([
        { op: 'set', key: k0, value: 'one' },
        { op: 'set', key: k0, value: 'two' },
        { op: 'set', key: k2, value: 'x' },
        { op: 'frobnicate', key: k0 },
        { op: 'set', key: kb, value_base64: Buffer.from([255]).toString('base64') },
        { op: 'delete', key: kb },
      ]),
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { results: { ok: boolean; error?: { code: string } }[]; errors: number };
    assert.deepEqual(
      body.results.map((x) => x.ok),
      [true, true, false, false, true, true],
    );
    assert.equal(body.results[2]!.error!.code, 'SHARD_UNREACHABLE', 'the owner of shard 2 is down');
    assert.equal(body.results[3]!.error!.code, 'INVALID_BODY');
    assert.equal(body.errors, 2);
    assert.equal(await (await fetch(`http://${A}/kv/${k0}`)).text(), 'two');
  });

  it('/cluster, /stats and /metrics describe the node', async () => {
    const cluster = (await (await fetch(`http://${A}/cluster`)).json()) as {
      version: string;
      shards: { leader: { address: string; local: boolean } }[];
    };
    assert.equal(cluster.version, shardMap.hash, 'server and client compute the same topology hash');
    assert.deepEqual(
      cluster.shards.map((s) => s.leader.local),
      [true, true, false],
    );
    const stats = (await (await fetch(`http://${A}/stats`)).json()) as {
      stores: { role: string; keys: number; engine: string }[];
    };
    assert.equal(stats.stores.length, 4);
    assert.ok(stats.stores.every((s) => s.engine === 'lsm' && typeof s.keys === 'number'));
    const metrics = await (await fetch(`http://${A}/metrics`)).text();
    assert.match(
      metrics,
      /distkv_http_requests_total\{node="[^"]+",route="kv_get",method="GET",status="200"\} \d+/,
    );
    assert.match(
      metrics,
      /distkv_http_request_duration_seconds_bucket\{node="[^"]+",route="kv_put",method="PUT",le="0.001"\} \d+/,
    );
    assert.match(metrics, /distkv_store_keys\{shard="shard-0",role="leader",node="[^"]+"\} \d+/);
  });
});

describe('response bodies for people and line-oriented tools', () => {
  it('ends every JSON body with a newline, so pipelined answers each start a line', async () => {
    const port = Number(A.split(':')[1]);
    const text = await rawRequest(port, 'GET /kv/no-such-key HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5), {
      idleMs: 500,
    });
    assert.equal(text.match(/^HTTP\/1\.1 404 /gm)?.length, 5, text);
    for (const path of ['/cluster', '/stats', '/kv?prefix=']) {
      const body = await (await fetch(`http://${A}${path}`)).text();
      assert.ok(body.endsWith('\n'), `${path} body ends with a newline`);
    }
  });
});

describe('bad input', () => {
  const expectError = async (r: Response, status: number, code: string): Promise<void> => {
    assert.equal(r.status, status);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code);
    assert.ok(body.error.message.length > 0);
  };

  it('gets a JSON error for each malformed request, and the server keeps serving', async () => {
    await expectError(await fetch(`http://${A}/kv/`), 400, 'MISSING_KEY');
    await expectError(await fetch(`http://${A}/kv/${'k'.repeat(1025)}`), 400, 'INVALID_KEY');
    await expectError(await fetch(`http://${A}/kv/%E0%A4%A`), 400, 'INVALID_KEY');
    // Percent-encoded bytes that are not UTF-8 are a key (binary-safe, as over RESP), here a missing one.
    await expectError(await fetch(`http://${A}/kv/%FF%FE`), 404, 'NOT_FOUND');
    await expectError(
      await fetch(`http://${A}/kv/a`, { method: 'PUT', body: 'x'.repeat(5000) }),
      413,
      'VALUE_TOO_LARGE',
    );
    await expectError(
      await fetch(`http://${A}/kv/a`, { method: 'POST', body: 'x' }),
      405,
      'METHOD_NOT_ALLOWED',
    );
    await expectError(await fetch(`http://${A}/nope`), 404, 'ROUTE_NOT_FOUND');
    await expectError(await fetch(`http://${A}/kv?limit=0`), 400, 'INVALID_ARGUMENT');
    await expectError(
      await fetch(`http://${A}/kv/_batch`, { method: 'POST', body: '{not json' }),
      400,
      'INVALID_BODY',
    );
    assert.equal((await fetch(`http://${A}/healthz`)).status, 200);
  });

  it('answers 405 with Allow on every route that exists for other methods, 404 only where none does', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/_admin/fence', 'POST'],
      ['GET', '/_admin/map', 'POST'],
      ['POST', '/_repl/pull', 'GET, HEAD'],
      ['PUT', '/_repl/snapshot', 'GET, HEAD'],
      ['POST', '/watch', 'GET, HEAD'],
      ['DELETE', '/kv', 'GET, HEAD'],
      ['GET', '/kv/_batch', 'POST'],
      ['PATCH', '/kv/a', 'GET, HEAD, PUT, DELETE'],
      ['POST', '/cluster', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await fetch(`http://${A}${path}`, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
    }
    await expectError(await fetch(`http://${A}/_admin/nope`), 404, 'ROUTE_NOT_FOUND');
  });

  it('refuses an oversized value from Content-Length before reading the body', async () => {
    const text = await rawRequest(
      portA,
      `PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc`,
    );
    const r = parseRaw(text);
    assert.equal(r.status, 413);
    assert.match(r.body, /VALUE_TOO_LARGE/);
    assert.match(r.body, /100000000 bytes; limit is 4096/);
  });

  it('cuts off a chunked body that grows over the limit', async () => {
    const chunk = 'x'.repeat(3000);
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(3) + '0\r\n\r\n';
    const text = await rawRequest(
      portA,
      `PUT /kv/chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    );
    assert.equal(parseRaw(text).status, 413);
    assert.equal(
      (await fetch(`http://${A}/kv/chunky`)).status,
      404,
      'nothing of the cut-off body was written',
    );
  });

  it('does not repeat a huge method or path back whole in its refusal', async () => {
    const method = 'A'.repeat(40000);
    for (const [req, status] of [
      // A method longer than any distkv implements is 501 from its first bytes (http1-head.ts).
      [`${method} / HTTP/1.1\r\nHost: x\r\n\r\n`, 501],
      [`${method} /kv/a HTTP/1.1\r\nHost: x\r\n\r\n`, 501],
      [`GET /${'p'.repeat(6000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 404],
    ] as const) {
      const r = parseRaw(await rawRequest(portA, req));
      assert.equal(r.status, status, r.body.slice(0, 200));
      assert.ok(r.body.length < 500, `a ${r.body.length}-byte answer`);
    }
  });

  it('rejects raw invalid UTF-8 bytes in a key', async () => {
    const req = Buffer.concat([
      Buffer.from('GET /kv/a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    const r = parseRaw(await rawRequest(portA, req));
    assert.equal(r.status, 400);
    assert.match(r.body, /INVALID_KEY/);
  });

  it('writes nothing when the client aborts mid-body, and keeps serving', async () => {
    await rawRequest(portA, `PUT /kv/aborted HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly-part`, {
      destroyAfterWrite: true,
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`http://${A}/kv/aborted`)).status, 404);
    assert.equal((await fetch(`http://${A}/healthz`)).status, 200);
  });

  it('answers garbage that is not HTTP by closing the connection, not by crashing', async () => {
    await rawRequest(portA, Buffer.from([0, 1, 2, 3, 255, 13, 10, 13, 10]));
    assert.equal((await fetch(`http://${A}/healthz`)).status, 200);
  });
});
