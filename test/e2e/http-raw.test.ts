/**
 * distkv's HTTP/1.1 over raw sockets (docs/api.md, "HTTP/1.1"): every route pipelined 1..128 deep
 * and answered in order, writes all applied and all answered; HTTP/1.0; each Content-Length case;
 * chunked bodies; HEAD; 414/431; client mistakes answered 4xx, never 500. A spawned server hosts
 * node A (leaders of shards 0 and 1) and B (their replicas); shard 2 is led by C, not running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard as firstKeyInShard, startHostedPair } from '../helpers/hosted-pair.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { exchange, type WireResponse } from './http-raw-wire.js';

let server: ServerProcess;
let C = '';
let portA = 0;
let portB = 0;
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

const DEPTHS = [1, 2, 7, 32, 128];

const keyInShard = (shard: number, prefix: string): string => firstKeyInShard(shardMap, shard, prefix);

/** localKeys returns n keys with `prefix` owned by shards 0 and 1 (hosted here). */
function localKeys(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (shardMap.shardOf(`${prefix}${i}`) !== 2) out.push(`${prefix}${i}`);
  return out;
}

before(async () => {
  ({ server, C, portA, portB, shardMap, stop } = await startHostedPair('[server]\nmax_value_bytes = 4096\n'));
});

after(() => stop());

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`;
const withBody = (method: string, path: string, body: string): string =>
  `${method} ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** pipelined sends depth requests at once on one connection and returns the responses. */
async function pipelined(
  depth: number,
  request: (i: number) => string,
  port = portA,
): Promise<WireResponse[]> {
  const r = await exchange(port, Array.from({ length: depth }, (_, i) => request(i)).join(''), {
    count: depth,
    timeoutMs: 20000,
  });
  assert.equal(r.responses.length, depth, `all ${depth} answered (got ${r.responses.length})`);
  return r.responses;
}

const json = (r: WireResponse): unknown => JSON.parse(r.body.toString());

describe('pipelining on every route, 1..128 deep, answered in order', () => {
  it('PUT /kv then GET /kv then DELETE /kv: every write applied and answered', async () => {
    for (const depth of DEPTHS) {
      const keys = localKeys(`pk${depth}-`, depth);
      let rs = await pipelined(depth, (i) => withBody('PUT', `/kv/${keys[i]!}`, `v${i}`));
      assert.ok(rs.every((r) => r.status === 204));
      rs = await pipelined(depth, (i) => get(`/kv/${keys[i]!}`));
      assert.deepEqual(
        rs.map((r) => r.body.toString()),
        keys.map((_, i) => `v${i}`),
      );
      rs = await pipelined(depth, (i) => `DELETE /kv/${keys[i]!} HTTP/1.1\r\nHost: t\r\n\r\n`);
      assert.ok(rs.every((r) => r.status === 204));
      rs = await pipelined(depth, (i) => get(`/kv/${keys[i]!}`));
      assert.ok(rs.every((r) => r.status === 404));
    }
  });

  it('mixed on one connection: a read sees the writes pipelined before it', async () => {
    const key = keyInShard(0, 'mix');
    const rs = await pipelined(60, (i) =>
      i % 3 === 2
        ? get(`/kv/${key}`)
        : i % 3 === 0
          ? withBody('PUT', `/kv/${key}`, `m${i}`)
          : get('/healthz'),
    );
    rs.forEach((r, i) => {
      if (i % 3 === 2) assert.equal(r.body.toString(), `m${i - 2}`, `read ${i}`);
    });
  });

  it("the seed's /set and /get", async () => {
    for (const depth of DEPTHS) {
      const keys = localKeys(`sk${depth}-`, depth);
      let rs = await pipelined(depth, (i) => get(`/set?key=${keys[i]!}&value=s${i}`));
      assert.ok(rs.every((r) => r.status === 200 && r.body.toString().startsWith('Key set successfully')));
      rs = await pipelined(depth, (i) => get(`/get?key=${keys[i]!}`));
      assert.deepEqual(
        rs.map((r) => r.body.toString()),
        keys.map((_, i) => `Value: s${i}`),
      );
    }
  });

  it('scans, each with its own limit', async () => {
    const keys = localKeys('scanp-', 40);
    await pipelined(40, (i) => withBody('PUT', `/kv/${keys[i]!}`, 'x'));
    for (const depth of DEPTHS) {
      const rs = await pipelined(depth, (i) => get(`/kv?prefix=scanp-&local=1&limit=${(i % 40) + 1}`));
      rs.forEach((r, i) => {
        assert.equal((json(r) as { items: unknown[] }).items.length, (i % 40) + 1);
      });
    }
  });

  it('batches', async () => {
    for (const depth of DEPTHS) {
      const keys = localKeys(`bk${depth}-`, depth);
      const rs = await pipelined(depth, (i) =>
        withBody(
          'POST',
          '/kv/_batch?local=1',
          JSON.stringify([
            ...Array.from({ length: i % 5 }, () => ({ op: 'delete', key: 'nothing' })),
            { op: 'set', key: keys[i], value: `b${i}` },
          ]),
        ),
      );
      rs.forEach((r, i) => {
        assert.equal((json(r) as { results: unknown[] }).results.length, (i % 5) + 1);
      });
      const check = await pipelined(depth, (i) => get(`/kv/${keys[i]!}`));
      assert.deepEqual(
        check.map((r) => r.body.toString()),
        keys.map((_, i) => `b${i}`),
      );
    }
  });

  it('/healthz, /stats, /cluster and /metrics', async () => {
    for (const depth of DEPTHS) {
      const paths = ['/healthz', '/stats', '/cluster', '/metrics'];
      const rs = await pipelined(depth, (i) => get(paths[i % 4]!));
      rs.forEach((r, i) => {
        assert.equal(r.status, 200);
        if (i % 4 === 0) assert.equal(r.body.toString(), 'ok');
        if (i % 4 === 1) assert.ok('stores' in (json(r) as object));
        if (i % 4 === 2) assert.ok('shards' in (json(r) as object));
        if (i % 4 === 3) assert.match(r.body.toString(), /distkv_http_requests_total/);
      });
    }
  });

  it('307 redirects for keys owned elsewhere, and reads at the replica address', async () => {
    for (const depth of DEPTHS) {
      const remote = Array.from({ length: depth }, (_, i) => keyInShard(2, `r${depth}-${i}-`));
      const rs = await pipelined(depth, (i) => get(`/kv/${remote[i]!}`));
      rs.forEach((r, i) => {
        assert.equal(r.status, 307);
        assert.equal(r.headers.get('location'), `http://${C}/kv/${remote[i]!}`);
      });
      const replicaReads = await pipelined(depth, (i) => get(`/kv/${keyInShard(i % 2, 'absent-')}`), portB);
      assert.ok(replicaReads.every((r) => r.status === 404 && r.headers.has('x-distkv-lag')));
    }
  });
});

describe('HTTP/1.0, framing and limits', () => {
  it('answers HTTP/1.0 and closes, or keeps the connection with keep-alive', async () => {
    let r = await exchange(portA, 'GET /healthz HTTP/1.0\r\n\r\n', { count: 1, lingerMs: 3000 });
    assert.equal(r.responses[0]?.body.toString(), 'ok');
    assert.equal(r.closed, true);
    const ka = 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    r = await exchange(portA, ka + ka, { count: 2 });
    assert.deepEqual(
      r.responses.map((x) => x.headers.get('connection')),
      ['keep-alive', 'keep-alive'],
    );
  });

  it('refuses conflicting, invalid and negative Content-Length with 400 and closes, applying nothing', async () => {
    const key = keyInShard(0, 'cl');
    for (const cl of ['Content-Length: 3\r\nContent-Length: 5', 'Content-Length: x', 'Content-Length: -5']) {
      const r = await exchange(portA, `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\n${cl}\r\n\r\nabcde`, {
        count: 1,
        lingerMs: 3000,
      });
      assert.equal(r.responses[0]?.status, 400, cl);
      assert.equal(r.closed, true, cl);
    }
    const r = await exchange(portA, get(`/kv/${key}`), { count: 1 });
    assert.equal(r.responses[0]?.status, 404);
  });

  it('takes duplicated equal Content-Lengths; reads exactly Content-Length bytes; applies nothing of a cut-off body', async () => {
    const [k1, k2, k3] = localKeys('frame-', 3) as [string, string, string];
    let r = await exchange(
      portA,
      `PUT /kv/${k1} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok`,
      {
        count: 1,
      },
    );
    assert.equal(r.responses[0]?.status, 204);
    r = await exchange(
      portA,
      `PUT /kv/${k2} HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcdef\r\n\r\n`,
      {
        count: 2,
        lingerMs: 3000,
      },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 400],
    );
    assert.equal(r.closed, true);
    r = await exchange(portA, `PUT /kv/${k3} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc`, {
      count: 1,
      halfClose: true,
      timeoutMs: 5000,
    });
    // A client that half-closes mid-body is answered 400 saying how much came (before: no answer).
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [400],
    );
    r = await exchange(portA, get(`/kv/${k1}`) + get(`/kv/${k2}`) + get(`/kv/${k3}`), { count: 3 });
    assert.deepEqual(
      r.responses.map((x) => `${x.status} ${x.body.toString().slice(0, 3)}`),
      ['200 ok', '200 abc', '404 {"e'],
    );
  });

  it('takes chunked bodies (as curl -T - sends them) and refuses chunked with Content-Length', async () => {
    const key = keyInShard(1, 'chunk');
    let r = await exchange(
      portA,
      `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n${get(`/kv/${key}`)}`,
      { count: 2 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 200],
    );
    assert.equal(r.responses[1]?.body.toString(), 'hello');
    r = await exchange(
      portA,
      `PUT /kv/${key} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nworld\r\n0\r\n\r\n`,
      { count: 1, lingerMs: 3000 },
    );
    assert.equal(r.responses[0]?.status, 400);
    assert.equal(r.closed, true);
  });

  it('answers HEAD wherever GET exists, with the same headers and no body', async () => {
    const key = keyInShard(0, 'head');
    await exchange(portA, withBody('PUT', `/kv/${key}`, 'hello'), { count: 1 });
    for (const path of [`/kv/${key}`, '/healthz', '/cluster', `/get?key=${key}`, '/kv?local=1&prefix=head']) {
      const r = await exchange(portA, `HEAD ${path} HTTP/1.1\r\nHost: t\r\n\r\n${get(path)}`, {
        count: 2,
        isHead: (i) => i === 0,
      });
      const [head, full] = r.responses as [WireResponse, WireResponse];
      assert.equal(head.status, full.status, path);
      // /cluster carries live figures (replicas' lag, seqs) that may change between the two answers
      // and with them a number's digits: its HEAD length is checked to within a few bytes
      const length = Number(head.headers.get('content-length'));
      if (path === '/cluster') assert.ok(Math.abs(length - full.body.length) <= 16, `${path}: ${length}`);
      else assert.equal(length, full.body.length, path);
      assert.equal(head.headers.get('content-type'), full.headers.get('content-type'), path);
    }
  });

  it('answers 414 for an oversize /set query and 431 for an oversize head, not a reset', async () => {
    let r = await exchange(portA, get(`/set?key=k&value=${'v'.repeat(40 * 1024)}`), { count: 1 });
    assert.equal(r.responses[0]?.status, 414);
    r = await exchange(portA, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(70 * 1024)}\r\n\r\n`, {
      count: 1,
    });
    assert.equal(r.responses[0]?.status, 431);
  });
});

describe('client mistakes are 4xx, never 500', () => {
  it('a scan prefix or cursor over max_key_bytes is 400 naming the limit', async () => {
    const r = await exchange(
      portA,
      get(`/kv?prefix=${'p'.repeat(2000)}`) + get(`/kv?after=${'a'.repeat(2000)}`),
      {
        count: 2,
      },
    );
    for (const x of r.responses) {
      assert.equal(x.status, 400);
      assert.match(x.body.toString(), /2000 bytes; limit is 1024/);
    }
  });

  it('invalid base64 and lone surrogates in a batch are refused per operation, storing nothing', async () => {
    const [k1, k2] = localKeys('b64bad-', 2) as [string, string];
    const body = `[{"op":"set","key":"${k1}","value_base64":"!!!"},{"op":"set","key":"\\ud800"},{"op":"set","key":"${k2}","value":"\\udc00"}]`;
    const r = await exchange(
      portA,
      withBody('POST', '/kv/_batch', body) + get(`/kv/${k1}`) + get(`/kv/${k2}`),
      {
        count: 3,
      },
    );
    const results = (json(r.responses[0]!) as { results: { ok: boolean; error?: { code: string } }[] })
      .results;
    assert.deepEqual(
      results.map((x) => x.error?.code),
      ['INVALID_BODY', 'INVALID_KEY', 'INVALID_BODY'],
    );
    assert.deepEqual(
      r.responses.slice(1).map((x) => x.status),
      [404, 404],
    );
  });

  it("answers a seed acknowledgement of a change that is not the next one 409 with the seed's text, no 500", async () => {
    // The seed answered it 500, and distkv logged a server error for a client's stale pair.
    const r = await exchange(
      portA,
      get('/delete-replication-key?key=never-written&value=x') + get('/healthz'),
      { count: 2 },
    );
    assert.equal(r.responses[0]?.status, 409);
    assert.equal(
      r.responses[0].body.toString(),
      'Error deleting replication key: it is not the next change of the replication log\n',
    );
    assert.equal(r.responses[1]?.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.doesNotMatch(server.stdout, /answered 500/);
  });

  it('?pretty=1 indents /stats and /cluster', async () => {
    const r = await exchange(portA, get('/stats?pretty=1') + get('/cluster?pretty=1'), { count: 2 });
    for (const x of r.responses) assert.match(x.body.toString(), /^\{\n {2}"/);
  });
});
