/**
 * A seeded model test of the client library's retries against a fault-injecting twin node: random
 * put (some create-only), delete and get calls, one at a time, each request of which the twin
 * answers, refuses (503 DRAINING: not executed), drops unexecuted, or executes and then loses the
 * answer (drops the connection, or answers after the client's timeout). After a lost answer
 * another client writes the key and is acknowledged, as it may in that gap. Claims: a write is
 * applied at most once per call (a resend after a lost answer could undo the other client's
 * acknowledged write, or apply twice around a failover); a call that resolved was applied exactly
 * once; one that rejected with anything but OutcomeUnknownError was not applied; a get gives the
 * twin's value and a delete whether the key existed when it ran. DISTKV_SEED replays a run; calls
 * run one at a time, so the first failing step printed is the shortest failing run of its seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError, OutcomeUnknownError } from '../../src/errors.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const OPS = 150;
const TIMEOUT_MS = 150;
/** LATE_MS is how late a lost answer comes: past the client's timeout, which undici's fast timers fire up to ~1 s late. */
const LATE_MS = 3000;
const KEYS = ['a', 'b', '{t}c', 'ключ'];

type Fault = 'ok' | 'draining' | 'dropBefore' | 'dropAfter' | 'lateAfter';

const seed = testSeed();
const rand = seededRandom(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** nextFault draws what the twin does with the next key request. */
function nextFault(): Fault {
  const r = rand();
  if (r < 0.1) return 'draining';
  if (r < 0.2) return 'dropBefore';
  if (r < 0.3) return 'dropAfter';
  if (r < 0.32) return 'lateAfter';
  return 'ok';
}

const store = new Map<string, string>();
/** applied counts the writes of the current call the twin executed; existedAt is what its delete saw. */
let applied = 0;
let existedAt: boolean | undefined;
/** served is the value the twin last answered a get with (undefined: 404). */
let served: string | undefined;
let others = 0;
let twin: HandlerTwin;
let client: DistkvClient;

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(twin.address));
        return;
      }
      const key = decodeURIComponent((req.url ?? '').slice('/kv/'.length));
      const fault = nextFault();
      if (fault === 'draining') {
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'DRAINING', message: 'twin drains' } }));
        return;
      }
      if (fault === 'dropBefore') {
        req.socket.destroy();
        return;
      }
      let status = 200;
      const headers: Record<string, string> = { 'x-distkv-seq': '1' };
      let body = '';
      if (req.method === 'GET') {
        const v = store.get(key);
        if (v === undefined) status = 404;
        else body = v;
      } else if (req.method === 'PUT' && req.headers['if-none-match'] === '*' && store.has(key)) {
        status = 412;
        headers['content-type'] = 'application/json';
        body = JSON.stringify({ error: { code: 'PRECONDITION_FAILED', message: 'exists', version: '1.1' } });
      } else if (req.method === 'PUT') {
        store.set(key, Buffer.concat(chunks).toString('utf8'));
        applied++;
        status = 204;
      } else {
        existedAt = store.delete(key);
        applied++;
        status = 204;
        headers['x-distkv-existed'] = existedAt ? '1' : '0';
      }
      if (fault === 'dropAfter' || fault === 'lateAfter') {
        // Another client writes the key in the gap and is acknowledged.
        store.set(key, `other-${++others}`);
        if (fault === 'dropAfter') {
          req.socket.destroy();
          return;
        }
        setTimeout(() => {
          if (!res.destroyed) res.writeHead(status, headers).end(body);
        }, LATE_MS);
        return;
      }
      if (req.method === 'GET') served = store.get(key);
      res.writeHead(status, headers).end(body);
    });
  });
  client = new DistkvClient({ urls: [twin.address], timeoutMs: TIMEOUT_MS, retries: 3 });
});

after(async () => {
  await client.close();
  await twin.stop();
});

describe('client retries against a node that loses answers (model)', () => {
  it('applies every write at most once and says truly whether it was applied', async () => {
    let values = 0;
    for (let step = 0; step < OPS; step++) {
      const key = pick(KEYS);
      const r = rand();
      const op = r < 0.45 ? 'put' : r < 0.55 ? 'create' : r < 0.75 ? 'delete' : 'get';
      const value = `v-${++values}`;
      applied = 0;
      existedAt = undefined;
      const what = `seed ${seed} step ${step}: ${op} ${key}`;
      let outcome: { ok: true; result: unknown } | { ok: false; err: unknown };
      try {
        const result =
          op === 'get'
            ? (await client.get(key))?.toString('utf8')
            : op === 'delete'
              ? await client.delete(key)
              : await client.put(key, value, op === 'create' ? { ifNoneMatch: true } : {});
        outcome = { ok: true, result };
      } catch (err) {
        outcome = { ok: false, err };
      }
      assert.ok(applied <= 1, `${what}: the write was applied ${applied} times`);
      if (outcome.ok) {
        if (op !== 'get') assert.equal(applied, 1, `${what}: resolved but not applied`);
        if (op === 'get') assert.equal(outcome.result, served, `${what}: get`);
        if (op === 'delete') assert.equal(outcome.result, existedAt, `${what}: existed`);
        if (op === 'put' || op === 'create')
          assert.ok(store.get(key) === value || store.get(key)?.startsWith('other-'), `${what}: value`);
        continue;
      }
      const err = outcome.err;
      assert.ok(err instanceof DistkvError, `${what}: ${String(err)}`);
      if (!(err instanceof OutcomeUnknownError))
        assert.equal(applied, 0, `${what}: rejected with ${err.code} (${err.message}) but applied`);
      else assert.notEqual(op, 'get', `${what}: a read has no outcome to lose`);
    }
  });
});
