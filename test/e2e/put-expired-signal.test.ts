/**
 * A put whose expiry is already past when its leader applies it is written as a delete (docs/api.md,
 * "TTL"), and the answer says so: `X-Distkv-Deleted: 1` on the PUT, `"deleted": true` in a batch's
 * result (with and without conditions), `deleted: true` from the client library's `putResult` and
 * batch results. Only the node that applied the write can tell: a `ttl_ms` counts from when the
 * node read the request's head, so a body that comes later can find it past, which no clock of the
 * client's shows. A put the node wrote carries no such signal. A node that relays the put to its
 * owner (`--proxy`) or forwards a batch's part passes the owner's word on.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/index.js';
import { Duo } from '../helpers/duo.js';
import { startRespPair } from './resp-wire.js';

const HOUR = 3_600_000;

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

function put(key: string, body: string, query = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`http://${A}/kv/${encodeURIComponent(key)}${query}`, { method: 'PUT', body, headers });
}

async function batch(ops: unknown[]): Promise<{ results: unknown[]; errors: number }> {
  const r = await fetch(`http://${A}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
  assert.equal(r.status, 200);
  return (await r.json()) as { results: unknown[]; errors: number };
}

/** lateBodyPut sends a PUT's head, then its body `delayMs` later, and returns the answer's head lines (lower case). */
function lateBodyPut(key: string, query: string, body: string, delayMs: number): Promise<string[]> {
  const [host, port] = [A.slice(0, A.lastIndexOf(':')), Number(A.slice(A.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    let got = '';
    sock.on('error', reject);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.destroy();
      resolve(got.slice(0, end).toLowerCase().split('\r\n'));
    });
    sock.write(`PUT /kv/${key}${query} HTTP/1.1\r\nHost: ${A}\r\nContent-Length: ${body.length}\r\n\r\n`);
    setTimeout(() => sock.write(body), delayMs);
  });
}

describe('a put whose expiry is past when applied says it was written as a delete', () => {
  it('answers X-Distkv-Deleted: 1 for a past expires_at_ms, and nothing for a put it wrote', async () => {
    assert.equal((await put('pe-http', 'old')).status, 204);
    const w = await put('pe-http', 'new', '?expires_at_ms=1');
    assert.equal(w.status, 204);
    assert.equal(w.headers.get('x-distkv-deleted'), '1');
    assert.match(w.headers.get('etag') ?? '', /^"\d+\.\d+"$/, "the ETag is the delete's version");
    assert.equal((await fetch(`http://${A}/kv/pe-http`)).status, 404);
    // Waiting for a replica to hold the delete (w=1) answers the same.
    const waited = await put('pe-http', 'new', '?w=1&expires_at_ms=1');
    assert.equal(waited.status, 204);
    assert.equal(waited.headers.get('x-distkv-deleted'), '1');
    for (const query of ['', `?expires_at_ms=${Date.now() + HOUR}`, '?ttl_ms=60000']) {
      const ok = await put('pe-http', 'v', query);
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get('x-distkv-deleted'), null, `PUT${query} wrote the key`);
    }
    // With a condition that holds, the condition is checked first, then the expiry deletes.
    const version = (await fetch(`http://${A}/kv/pe-http`)).headers.get('etag')!;
    const cond = await put('pe-http', 'x', '?expires_at_ms=2', { 'If-Match': version });
    assert.equal(cond.status, 204);
    assert.equal(cond.headers.get('x-distkv-deleted'), '1');
  });

  it('says so for a ttl_ms that ran out before the body came (no client clock can tell)', async () => {
    const head = await lateBodyPut('pe-late', '?ttl_ms=1', 'v', 50);
    assert.equal(head[0], 'http/1.1 204 no content');
    assert.ok(head.includes('x-distkv-deleted: 1'), head.join(' | '));
    assert.equal((await fetch(`http://${A}/kv/pe-late`)).status, 404);
    const kept = await lateBodyPut('pe-late', '?ttl_ms=60000', 'v', 50);
    assert.ok(!kept.some((l) => l.startsWith('x-distkv-deleted')), kept.join(' | '));
  });

  it("marks such a set in a batch's results, with conditions and without", async () => {
    const plain = await batch([
      { op: 'set', key: 'pe-b1', value: 'x', expires_at_ms: 1 },
      { op: 'set', key: 'pe-b2', value: 'y', expires_at_ms: Date.now() + HOUR },
      { op: 'set', key: 'pe-b3', value: 'z' },
    ]);
    assert.deepEqual(plain, {
      results: [{ ok: true, deleted: true }, { ok: true }, { ok: true }],
      errors: 0,
    });
    const conditional = await batch([
      { op: 'set', key: '{pe}1', value: 'x', expires_at_ms: 1, if_none_match: '*' },
      { op: 'set', key: '{pe}2', value: 'y', ttl_ms: 60000 },
    ]);
    assert.deepEqual(conditional, { results: [{ ok: true, deleted: true }, { ok: true }], errors: 0 });
    assert.equal((await fetch(`http://${A}/kv/%7Bpe%7D1`)).status, 404);
    assert.equal((await fetch(`http://${A}/kv/%7Bpe%7D2`)).status, 200);
  });

  it("gives the client library the node's word: putResult and batch()", async () => {
    const c = new DistkvClient({ urls: [A] });
    try {
      const gone = await c.putResult('pe-client', 'v', { expiresAtMs: 1 });
      assert.equal(gone.deleted, true);
      assert.match(gone.version, /^\d+\.\d+$/);
      assert.equal(gone.version.split('.')[1], String(gone.seq));
      assert.equal(await c.get('pe-client'), undefined);
      const kept = await c.putResult('pe-client', 'v', { ttlMs: 60000 });
      assert.deepEqual({ ...kept, seq: 0, version: '' }, { seq: 0, version: '', deleted: false });
      assert.ok(kept.seq > gone.seq);
      // put still resolves the seq (a number), as before.
      assert.equal(typeof (await c.put('pe-client', 'v', { expiresAtMs: 1 })), 'number');
      const results = await c.batch([
        { op: 'set', key: 'pe-c1', value: 'x', expiresAtMs: 1 },
        { op: 'set', key: 'pe-c2', value: 'y' },
      ]);
      assert.deepEqual(results, [{ ok: true, deleted: true }, { ok: true }]);
    } finally {
      await c.close();
    }
  });
});

describe('the signal through a node that relays to the owner', () => {
  it('passes X-Distkv-Deleted on from the owner (--proxy), and a forwarded batch part\'s "deleted"', async () => {
    const duo = await Duo.start('put-expired', { args: ['--proxy', '--inline'] });
    try {
      const key = duo.keyOf(1, 'pe-relay-');
      const relayed = await fetch(`http://${duo.A}/kv/${key}?expires_at_ms=1`, { method: 'PUT', body: 'v' });
      assert.equal(relayed.status, 204);
      assert.equal(relayed.headers.get('x-distkv-deleted'), '1');
      const written = await fetch(`http://${duo.A}/kv/${key}?ttl_ms=60000`, { method: 'PUT', body: 'v' });
      assert.equal(written.status, 204);
      assert.equal(written.headers.get('x-distkv-deleted'), null);
      const r = await fetch(`http://${duo.A}/kv/_batch`, {
        method: 'POST',
        body: JSON.stringify([
          { op: 'set', key, value: 'x', expires_at_ms: 1 },
          { op: 'set', key: duo.keyOf(0, 'pe-local-'), value: 'y', expires_at_ms: 1 },
        ]),
      });
      assert.deepEqual(await r.json(), {
        results: [
          { ok: true, deleted: true },
          { ok: true, deleted: true },
        ],
        errors: 0,
      });
    } finally {
      await duo.stop();
    }
  });
});
