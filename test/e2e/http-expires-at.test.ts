/**
 * Absolute expiry over HTTP (docs/api.md, "TTL"): `PUT /kv/{key}?expires_at_ms=T` and a batch
 * set's `"expires_at_ms"` make the key expire at Unix time T, which RESP's PEXPIRETIME then reads
 * back to the millisecond; a time already past deletes the key, as Redis's SET ... PXAT does; both
 * `ttl_ms` and `expires_at_ms`, or a T out of bounds, is a 400 naming them. The client library's
 * `expiresAtMs` and `distkv set --expires-at` send it. A seeded model mixes every form on a few keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/index.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { runCli } from '../helpers/server-process.js';
import { exchange, splitReplies, startRespPair } from './resp-wire.js';

/** MAX_TTL_MS is ten years, the bound of ttl_ms and of expires_at_ms ahead of now. */
const MAX_TTL_MS = 315360000000;
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

function batch(ops: unknown[]): Promise<Response> {
  return fetch(`http://${A}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
}

/** expiryOf reads `key`'s expiry with PEXPIRETIME: Unix ms, -1 for none, -2 when the key is missing. */
async function expiryOf(key: string): Promise<number> {
  const reply = await exchange(respOf(A), [['PEXPIRETIME', key]]);
  assert.match(reply, /^:-?\d+\r\n$/);
  return Number(reply.slice(1, -2));
}

/** expiriesOf reads the expiries of `keys` on one connection (as expiryOf). */
async function expiriesOf(keys: string[]): Promise<number[]> {
  const text = await exchange(
    respOf(A),
    keys.map((k) => ['PEXPIRETIME', k]),
  );
  return splitReplies(text).map((r) => Number(r.slice(1, -2)));
}

async function errorOf(r: Response): Promise<{ code: string; message: string }> {
  return ((await r.json()) as { error: { code: string; message: string } }).error;
}

describe('PUT ?expires_at_ms and a batch set\'s "expires_at_ms"', () => {
  it('gives the key exactly that instant as its expiry, on a PUT, a batch and a batch with conditions', async () => {
    const at = Date.now() + HOUR + 123;
    const w = await put('abs-put', 'v', `?expires_at_ms=${at}`);
    assert.equal(w.status, 204);
    const b = await batch([
      { op: 'set', key: 'abs-b1', value: 'x', expires_at_ms: at + 1 },
      { op: 'set', key: 'abs-b2', value: 'y' },
    ]);
    assert.equal(b.status, 200);
    assert.deepEqual(((await b.json()) as { errors: number }).errors, 0);
    const c = await batch([
      { op: 'set', key: '{abs}c', value: 'z', if_none_match: '*', expires_at_ms: at + 2 },
    ]);
    assert.equal(((await c.json()) as { errors: number }).errors, 0);
    assert.deepEqual(await expiriesOf(['abs-put', 'abs-b1', 'abs-b2', '{abs}c']), [at, at + 1, -1, at + 2]);
    const r = await fetch(`http://${A}/kv/abs-put`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'v');
  });

  it('expires the key at that instant', async () => {
    const at = Date.now() + 600;
    assert.equal((await put('abs-soon', 'v', `?expires_at_ms=${at}`)).status, 204);
    const deadline = at + 10_000;
    while ((await fetch(`http://${A}/kv/abs-soon`)).status === 200) {
      assert.ok(Date.now() < deadline, 'the key was still served 10 s after its instant');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(Date.now() >= at, 'the key was gone before its instant');
  });

  it('deletes the key for a time already past (as SET ... PXAT in Redis), logging one delete and no expire record', async () => {
    assert.equal((await put('abs-past', 'old')).status, 204);
    const w = await put('abs-past', 'new', '?expires_at_ms=1');
    assert.equal(w.status, 204);
    const seq = Number(w.headers.get('x-distkv-seq'));
    assert.equal((await fetch(`http://${A}/kv/abs-past`)).status, 404);
    assert.equal(await expiryOf('abs-past'), -2);
    // A value stored already expired would be reaped at once, its expire record the next seq.
    await new Promise((r) => setTimeout(r, 300));
    const next = await put('abs-past', 'again');
    assert.equal(
      Number(next.headers.get('x-distkv-seq')),
      seq + 1,
      'nothing was logged between the two writes',
    );
    const b = await batch([{ op: 'set', key: 'abs-past', value: 'x', expires_at_ms: Date.now() - 5 }]);
    assert.equal(((await b.json()) as { errors: number }).errors, 0);
    assert.equal((await fetch(`http://${A}/kv/abs-past`)).status, 404);
  });

  it('shows watchers a delete for a put whose time has passed, not a put of a key no read returns', async () => {
    assert.equal((await put('wpast', 'old')).status, 204);
    assert.equal((await put('wpast', 'x', '?expires_at_ms=1')).status, 204);
    await batch([{ op: 'set', key: 'wpast', value: 'y', expires_at_ms: 2 }]);
    assert.equal((await put('wpast', 'new')).status, 204);
    const c = new DistkvClient({ urls: [A] });
    const stop = new AbortController();
    const seen: string[] = [];
    try {
      const watched = (async () => {
        for await (const ev of c.watch('wpast', { from: '0.0', signal: stop.signal })) {
          if (ev.type !== 'put' && ev.type !== 'delete' && ev.type !== 'expire') continue;
          seen.push(ev.type);
          if (seen.length === 4) return;
        }
      })();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error(`saw only ${seen.join(' ')}`));
        }, 15000).unref(),
      );
      await Promise.race([watched, timeout]);
    } finally {
      stop.abort();
      await c.close();
    }
    assert.deepEqual(seen, ['put', 'delete', 'delete', 'put']);
  });

  it('refuses ttl_ms with expires_at_ms, and an expires_at_ms out of 1..now + ten years, with 400 naming them', async () => {
    assert.equal((await put('abs-bad', 'keep')).status, 204);
    const both = await put('abs-bad', 'x', `?ttl_ms=1000&expires_at_ms=${Date.now() + HOUR}`);
    assert.equal(both.status, 400);
    const e = await errorOf(both);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, /ttl_ms .*expires_at_ms.*not both/);
    const tooFar = Date.now() + MAX_TTL_MS + 60_000;
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e12', String(tooFar), '9999999999999999']) {
      const r = await put('abs-bad', 'x', `?expires_at_ms=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(
        (await errorOf(r)).message,
        /^expires_at_ms must be an integer in 1\.\.\d+ \(Unix time in milliseconds/,
        bad,
      );
    }
    const del = await fetch(`http://${A}/kv/abs-bad?expires_at_ms=${Date.now() + HOUR}`, {
      method: 'DELETE',
    });
    assert.equal(del.status, 400);
    const ops = [
      { op: 'set', key: 'abs-bad', value: 'x', ttl_ms: 1000, expires_at_ms: Date.now() + HOUR },
      { op: 'set', key: 'abs-bad', value: 'x', expires_at_ms: String(Date.now() + HOUR) },
      { op: 'set', key: 'abs-bad', value: 'x', expires_at_ms: 0 },
      { op: 'set', key: 'abs-bad', value: 'x', expires_at_ms: tooFar },
      { op: 'set', key: 'abs-bad', value: 'x', expires_at_ms: 1.5 },
      { op: 'delete', key: 'abs-bad', expires_at_ms: Date.now() + HOUR },
    ];
    const r = (await (await batch(ops)).json()) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      r.results.map((x) => x.error?.code),
      ops.map(() => 'INVALID_ARGUMENT'),
    );
    assert.match(r.results[0]!.error!.message, /^ops\[0\]: give ttl_ms .* or expires_at_ms .*, not both/);
    assert.match(r.results[1]!.error!.message, /^ops\[1\]\.expires_at_ms must be an integer/);
    assert.match(r.results[5]!.error!.message, /^ops\[5\]\.expires_at_ms: only a set takes an expiry/);
    assert.equal(await (await fetch(`http://${A}/kv/abs-bad`)).text(), 'keep');
    assert.equal(await expiryOf('abs-bad'), -1);
  });
});

describe('expiresAtMs in the client library and distkv set --expires-at', () => {
  it('sends the instant from put(), batch() and the CLI', async () => {
    const c = new DistkvClient({ urls: [A] });
    try {
      const at = Date.now() + HOUR;
      await c.put('abs-client', 'v', { expiresAtMs: at });
      const results = await c.batch([
        { op: 'set', key: 'abs-client-b', value: 'w', expiresAtMs: at + 7 },
        { op: 'set', key: 'abs-client-past', value: 'w', expiresAtMs: 1 },
      ]);
      // The past instant's set was written as a delete, and its result says so (put-expired-signal).
      assert.deepEqual(results, [{ ok: true }, { ok: true, deleted: true }]);
      await assert.rejects(c.put('abs-client', 'v', { expiresAtMs: at, ttlMs: 5 }), {
        code: 'INVALID_ARGUMENT',
      });
      const cli = await runCli(['set', 'abs-cli', 'v', '--expires-at', String(at + 9), '--url', A]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(await expiriesOf(['abs-client', 'abs-client-b', 'abs-client-past', 'abs-cli']), [
        at,
        at + 7,
        -2,
        at + 9,
      ]);
      const both = await runCli([
        'set',
        'abs-cli',
        'v',
        '--expires-at',
        String(at),
        '--ttl',
        '5',
        '--url',
        A,
      ]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--ttl .* or --expires-at .*not both/);
      const far = await runCli(['set', 'abs-cli', 'v', '--expires-at', String(at + MAX_TTL_MS), '--url', A]);
      assert.equal(far.code, 2);
      assert.match(far.stderr, /--expires-at must be an integer in 1\.\.\d+ \(Unix ms/);
      assert.equal(await expiryOf('abs-cli'), at + 9);
    } finally {
      await c.close();
    }
  });
});

/** Expect is what the model says of a key: missing, or present with an expiry known exactly or within a range. */
type Expect = { present: false } | { present: true; value: string; lo: number; hi: number };

describe('expiry forms against a model (seeded)', () => {
  it('leaves each key with the value and expiry of its last write, over random PUTs and batches with ttl_ms, expires_at_ms (past and future) or none', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const keys = Array.from({ length: 6 }, (_, i) => `model-${i}`);
    const model = new Map<string, Expect>(keys.map((k) => [k, { present: false }]));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    try {
      for (let step = 0; step < 80; step++) {
        const key = pick(keys);
        const value = `v${step}`;
        const form = pick(['none', 'ttl', 'at', 'past', 'edge', 'delete'] as const);
        const viaBatch = rand() < 0.5;
        const now = Date.now();
        // Expiries at least an hour away (none runs out during the test), or in the past, or 1.
        const ttl = HOUR + Math.floor(rand() * (MAX_TTL_MS - HOUR));
        const at = now + HOUR + Math.floor(rand() * (MAX_TTL_MS - 2 * HOUR));
        const past = form === 'edge' ? 1 : now - 1 - Math.floor(rand() * HOUR);
        const field: Record<string, number> =
          form === 'ttl'
            ? { ttl_ms: ttl }
            : form === 'at'
              ? { expires_at_ms: at }
              : form === 'past' || form === 'edge'
                ? { expires_at_ms: past }
                : {};
        const sent = Date.now();
        if (form === 'delete') {
          const r = viaBatch
            ? await batch([{ op: 'delete', key }])
            : await fetch(`http://${A}/kv/${key}`, { method: 'DELETE' });
          assert.ok(r.status === 200 || r.status === 204 || r.status === 404, `seed ${seed} step ${step}`);
          await r.arrayBuffer();
        } else if (viaBatch) {
          const r = (await (await batch([{ op: 'set', key, value, ...field }])).json()) as { errors: number };
          assert.equal(r.errors, 0, `seed ${seed} step ${step}`);
        } else {
          const query = Object.entries(field)
            .map(([k, v]) => `?${k}=${v}`)
            .join('');
          assert.equal((await put(key, value, query)).status, 204, `seed ${seed} step ${step}`);
        }
        const done = Date.now();
        model.set(
          key,
          form === 'delete' || form === 'past' || form === 'edge'
            ? { present: false }
            : form === 'ttl'
              ? { present: true, value, lo: sent + ttl, hi: done + ttl }
              : form === 'at'
                ? { present: true, value, lo: at, hi: at }
                : { present: true, value, lo: -1, hi: -1 },
        );
      }
      const expiries = await expiriesOf(keys);
      for (const [i, key] of keys.entries()) {
        const want = model.get(key)!;
        const r = await fetch(`http://${A}/kv/${key}`);
        const got = r.status === 200 ? await r.text() : undefined;
        const e = expiries[i]!;
        if (!want.present) {
          assert.equal(got, undefined, `seed ${seed}: ${key} is missing`);
          assert.equal(e, -2, `seed ${seed}: ${key} has no expiry`);
        } else {
          assert.equal(got, want.value, `seed ${seed}: ${key}'s value`);
          assert.ok(
            e >= want.lo && e <= want.hi,
            `seed ${seed}: ${key} expires at ${e}, expected ${want.lo}..${want.hi}`,
          );
        }
      }
    } catch (err) {
      console.error(`expiry model failed with DISTKV_SEED=${seed}`);
      throw err;
    }
  });
});
