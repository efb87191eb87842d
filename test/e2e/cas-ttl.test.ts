/**
 * Versions, compare-and-set and TTL against a spawned server (docs/api.md, "Versions" and "TTL"):
 * one process hosts node A (leader of shards 0 and 1) and node B (their replica); shard 2 is led by
 * a node C that is not running, so a batch can span a shard this node does not lead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient, PreconditionFailedError } from '../../src/client/index.js';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard as firstKeyInShard, startHostedPair } from '../helpers/hosted-pair.js';

let A = '';
let B = '';
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

const keyInShard = (shard: number, prefix: string): string => firstKeyInShard(shardMap, shard, prefix);

before(async () => {
  ({ A, B, shardMap, stop } = await startHostedPair());
});

after(() => stop());

function put(key: string, body: string, headers: Record<string, string> = {}, query = ''): Promise<Response> {
  return fetch(`http://${A}/kv/${key}${query}`, { method: 'PUT', body, headers });
}

/** lastSeqOf returns the lastSeq /stats of `node` reports for `shard`'s store in `role`. */
async function lastSeqOf(node: string, shard: number, role: 'leader' | 'replica'): Promise<number> {
  const doc = (await (await fetch(`http://${node}/stats`)).json()) as {
    stores: { shard: number; role: string; lastSeq: number }[];
  };
  const s = doc.stores.find((x) => x.shard === shard && x.role === role);
  assert.ok(s, `no ${role} store of shard ${shard} in /stats`);
  return s.lastSeq;
}

async function until(what: string, check: () => Promise<boolean>, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('versions and conditional writes', () => {
  it('gives every write and read the key version E.S as an ETag, and scans carry it', async () => {
    const key = keyInShard(0, 'ver');
    const w = await put(key, 'one');
    assert.equal(w.status, 204);
    const etag = w.headers.get('etag');
    assert.match(etag ?? '', /^"0\.\d+"$/);
    assert.equal(etag, `"0.${w.headers.get('x-distkv-seq')}"`);
    const r = await fetch(`http://${A}/kv/${key}`);
    assert.equal(r.headers.get('etag'), etag);
    // Shard 2's owner is not running: the scan answers 503 with the part it has.
    const doc = (await (await fetch(`http://${A}/kv?prefix=${key}`)).json()) as {
      partial: { items: { key: string; version: string }[] };
    };
    const page = doc.partial;
    assert.deepEqual(
      page.items.map((i) => [i.key, `"${i.version}"`]),
      [[key, etag]],
    );
  });

  it('writes with If-Match only when the version matches, else 412 with the current version', async () => {
    const key = keyInShard(1, 'cas');
    const v1 = (await put(key, 'a')).headers.get('etag')!;
    const ok = await put(key, 'b', { 'if-match': v1 });
    assert.equal(ok.status, 204);
    const v2 = ok.headers.get('etag')!;
    assert.notEqual(v2, v1);
    const stale = await put(key, 'c', { 'if-match': v1 });
    assert.equal(stale.status, 412);
    assert.equal(stale.headers.get('etag'), v2);
    const body = (await stale.json()) as { error: { code: string; version: string } };
    assert.equal(body.error.code, 'PRECONDITION_FAILED');
    assert.equal(`"${body.error.version}"`, v2);
    assert.equal(await (await fetch(`http://${A}/kv/${key}`)).text(), 'b', 'a failed CAS writes nothing');
    const del = await fetch(`http://${A}/kv/${key}`, { method: 'DELETE', headers: { 'if-match': v1 } });
    assert.equal(del.status, 412);
    const del2 = await fetch(`http://${A}/kv/${key}`, { method: 'DELETE', headers: { 'if-match': v2 } });
    assert.equal(del2.status, 204);
    const gone = await put(key, 'd', { 'if-match': v2 });
    assert.equal(gone.status, 412);
    assert.equal(((await gone.json()) as { error: { version: unknown } }).error.version, null);
  });

  it('creates with If-None-Match: * exactly once among concurrent creators', async () => {
    const key = keyInShard(0, 'create');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => put(key, `by-${i}`, { 'if-none-match': '*' })),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [204, ...Array<number>(11).fill(412)]);
    const winner = answers.findIndex((r) => r.status === 204);
    assert.equal(await (await fetch(`http://${A}/kv/${key}`)).text(), `by-${winner}`);
  });

  it('N concurrent clients incrementing one counter by CAS end at the number of successful CASes', async () => {
    const key = keyInShard(1, 'counter');
    const CLIENTS = 6;
    const ATTEMPTS = 30;
    const clients = Array.from({ length: CLIENTS }, () => new DistkvClient({ urls: [A] }));
    try {
      await clients[0]!.put(key, '0');
      let successes = 0;
      let conflicts = 0;
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < ATTEMPTS; i++) {
            const cur = await c.getVersioned(key);
            assert.ok(cur);
            try {
              await c.putVersioned(key, String(Number(cur.value.toString()) + 1), { ifMatch: cur.version });
              successes++;
            } catch (err) {
              if (!(err instanceof PreconditionFailedError)) throw err;
              assert.match(err.version ?? '', /^0\.\d+$/);
              conflicts++;
            }
          }
        }),
      );
      const final = Number(await clients[0]!.getString(key));
      assert.equal(final, successes, `final value = successful CASes (${conflicts} conflicts)`);
      assert.equal(successes + conflicts, CLIENTS * ATTEMPTS);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

/** BatchAnswer is a `/kv/_batch` answer: per-op results, or a whole-batch error. */
interface BatchAnswer {
  results: { ok: boolean; error?: { code: string }; version?: string | null }[];
  error: { code: string; message: string };
}

describe('batches with conditions', () => {
  const batch = async (ops: unknown[]): Promise<{ status: number; body: BatchAnswer }> => {
    const r = await fetch(`http://${A}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
    return { status: r.status, body: (await r.json()) as BatchAnswer };
  };
  const get = async (key: string): Promise<[number, string, string | null]> => {
    const r = await fetch(`http://${A}/kv/${encodeURIComponent(key)}`);
    return [r.status, await r.text(), r.headers.get('etag')];
  };

  it('applies a batch of one shard whole, or none of it when one condition fails', async () => {
    // One hash tag puts both keys in one shard; pick a tag whose shard this node leads.
    let tag = 0;
    while (shardMap.shardOf(`{acct${tag}}`) === 2) tag++;
    const [x, y] = [`{acct${tag}}x`, `{acct${tag}}y`];
    let r = await batch([
      { op: 'set', key: x, value: '10', if_none_match: '*' },
      { op: 'set', key: y, value: '0', if_none_match: '*' },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.results, [{ ok: true }, { ok: true }]);
    const vx = (await get(x))[2]!.slice(1, -1);
    const vy = (await get(y))[2]!.slice(1, -1);
    r = await batch([
      { op: 'set', key: x, value: '5', if_match: vx },
      { op: 'set', key: y, value: '5', if_match: '0.1' },
    ]);
    assert.equal(r.body.results[0]!.error?.code, 'BATCH_ABORTED');
    assert.equal(r.body.results[1]!.error?.code, 'PRECONDITION_FAILED');
    assert.equal(r.body.results[1]!.version, vy);
    assert.equal((await get(x))[1], '10', 'nothing applied');
    assert.equal((await get(y))[1], '0');
    r = await batch([
      { op: 'set', key: x, value: '5', if_match: vx },
      { op: 'set', key: y, value: '5', if_match: vy, ttl_ms: 60000 },
      { op: 'delete', key: `{acct${tag}}z` },
    ]);
    assert.deepEqual(r.body.results, [{ ok: true }, { ok: true }, { ok: true }]);
    assert.equal((await get(x))[1], '5');
    assert.equal((await get(y))[1], '5');
  });

  it('runs through the client: all-or-nothing with ifMatch/ifNoneMatch, refused across shards', async () => {
    const c = new DistkvClient({ urls: [A] });
    try {
      let tag = 0;
      while (shardMap.shardOf(`{cli${tag}}`) === 2) tag++;
      const k = `{cli${tag}}k`;
      const created = await c.batch([
        { op: 'set', key: k, value: 'v', ifNoneMatch: true, ttlMs: 60000 },
        { op: 'set', key: `{cli${tag}}j`, value: 'w' },
      ]);
      assert.deepEqual(created, [{ ok: true }, { ok: true }]);
      const again = await c.batch([{ op: 'set', key: k, value: 'x', ifNoneMatch: true }]);
      assert.equal(again[0]!.ok ? '' : again[0]!.error.code, 'PRECONDITION_FAILED');
      await assert.rejects(
        c.batch([
          { op: 'set', key: keyInShard(0, 'cx'), value: 'a', ifNoneMatch: true },
          { op: 'set', key: keyInShard(1, 'cx'), value: 'a' },
        ]),
        /one shard/,
      );
      assert.equal(await c.getString(k), 'v');
    } finally {
      await c.close();
    }
  });

  it('refuses a batch with conditions across shards, or with an invalid operation, writing nothing', async () => {
    const k0 = keyInShard(0, 'xs');
    const k1 = keyInShard(1, 'xs');
    let r = await batch([
      { op: 'set', key: k0, value: 'a', if_none_match: '*' },
      { op: 'set', key: k1, value: 'b' },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_ARGUMENT');
    assert.match(r.body.error.message, /one shard/);
    r = await batch([
      { op: 'set', key: k0, value: 'a', if_none_match: '*' },
      { op: 'set', key: k0, value: 'b', if_match: 'nope' },
    ]);
    assert.equal(r.status, 400);
    r = await batch([{ op: 'set', key: k0, value: 'a', ttl_ms: 0 }]);
    assert.equal(r.body.results[0]!.error?.code, 'INVALID_ARGUMENT');
    assert.equal((await get(k0))[0], 404);
    assert.equal((await get(k1))[0], 404);
  });
});

describe('TTL', () => {
  it('expires a key on the leader and the replica at the same log position', async () => {
    const key = keyInShard(0, 'ttl');
    const TTL = 1500;
    // Read before the PUT is sent: the node sets the expiry on receiving it, so no earlier than
    // this + TTL. (Read after the answer, a test process late by a few hundred ms moved it past
    // the expiry and a correct node's 404 failed the check below.)
    const deadline = Date.now() + TTL;
    const w = await put(key, 'short-lived', {}, `?ttl_ms=${TTL}`);
    assert.equal(w.status, 204);
    const written = Number(w.headers.get('x-distkv-seq'));
    await until('the replica to hold the write', async () => (await lastSeqOf(B, 0, 'replica')) >= written);
    // Both serve it while it lives: a read answered before the deadline must find it (one answered
    // later, on a loaded machine, proves nothing either way).
    for (const node of [A, B]) {
      const status = (await fetch(`http://${node}/kv/${key}`)).status;
      if (Date.now() < deadline) assert.equal(status, 200, `${node} before the TTL ran out`);
    }
    // Once expired, neither serves it, and both logs end with the leader's expire record.
    await until(
      'the expire record on the leader',
      async () => (await lastSeqOf(A, 0, 'leader')) === written + 1,
    );
    assert.equal((await fetch(`http://${A}/kv/${key}`)).status, 404);
    await until(
      'the replica to apply the expire record',
      async () => (await lastSeqOf(B, 0, 'replica')) === written + 1,
    );
    assert.equal((await fetch(`http://${B}/kv/${key}`)).status, 404);
    // A write after the expiry comes after it in the log, on both.
    const again = await put(key, 'back');
    assert.equal(Number(again.headers.get('x-distkv-seq')), written + 2);
    await until(
      'the replica to hold the new write',
      async () => (await lastSeqOf(B, 0, 'replica')) === written + 2,
    );
    assert.equal(await (await fetch(`http://${B}/kv/${key}`)).text(), 'back');
  });

  it('keeps a key whose TTL was replaced by a plain write', async () => {
    const key = keyInShard(1, 'ttl-replaced');
    await put(key, 'v1', {}, '?ttl_ms=200');
    await put(key, 'v2');
    await new Promise((r) => setTimeout(r, 400));
    const r = await fetch(`http://${A}/kv/${key}`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'v2');
  });
});

describe('hostile input', () => {
  it('refuses malformed conditions and TTLs with 400 and changes nothing', async () => {
    const key = keyInShard(0, 'hostile');
    const v = (await put(key, 'keep')).headers.get('etag')!;
    const bad: [Record<string, string>, string][] = [
      [{ 'if-match': 'junk' }, ''],
      [{ 'if-match': '"1.2.3"' }, ''],
      [{ 'if-match': '"-1.5"' }, ''],
      [{ 'if-match': 'W/"0.1"' }, ''],
      [{ 'if-match': '"0.99999999999999999"' }, ''],
      [{ 'if-none-match': '"0.1"' }, ''],
      [{ 'if-match': v, 'if-none-match': '*' }, ''],
      [{}, '?ttl_ms=0'],
      [{}, '?ttl_ms=-1'],
      [{}, '?ttl_ms=1.5'],
      [{}, '?ttl_ms=abc'],
      [{}, '?ttl_ms='],
      [{}, '?ttl_ms=99999999999999999999'],
      [{}, '?ttl_ms=315360000001'],
    ];
    for (const [headers, query] of bad) {
      const r = await put(key, 'changed', headers, query);
      assert.equal(r.status, 400, `${JSON.stringify(headers)} ${query}`);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    }
    const del = await fetch(`http://${A}/kv/${key}`, { method: 'DELETE', headers: { 'if-match': 'nope' } });
    assert.equal(del.status, 400);
    const r = await fetch(`http://${A}/kv/${key}`);
    assert.equal(await r.text(), 'keep');
    assert.equal(r.headers.get('etag'), v);
  });

  it('answers 412 to an If-Match naming another epoch of the same seq', async () => {
    const key = keyInShard(1, 'epoch');
    const v = (await put(key, 'x')).headers.get('etag')!;
    const other = v.replace(/^"0\./, '"7.');
    const r = await put(key, 'y', { 'if-match': other });
    assert.equal(r.status, 412);
    assert.equal(r.headers.get('etag'), v);
  });
});
