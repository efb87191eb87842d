/**
 * Conditions on a read (src/http/read-conditions.ts, docs/api.md "Versions"): `GET /kv/{key}` with
 * `If-Match` answers 412 when the key no longer has that version, and with `If-None-Match` a 304
 * when it still has it (RFC 9110 section 13.2.2). Both were ignored: a client asking "the value,
 * if it is still version V" got a changed value as a 200, as if it were V. Also through `--proxy`
 * (the conditions go on to the owner) and at a replica. A randomized check compares every answer
 * with the RFC's evaluation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Duo } from '../helpers/duo.js';
import { keyInShard as firstKeyInShard, startHostedPair, type HostedPair } from '../helpers/hosted-pair.js';

let pair: HostedPair | undefined;
let duo: Duo | undefined;

before(async () => {
  pair = await startHostedPair();
  duo = await Duo.start('get-cond', { args: ['--proxy', '--inline'] });
});

after(async () => {
  await duo?.stop();
  await pair?.stop();
});

const keyOf = (prefix: string): string => firstKeyInShard(pair!.shardMap, 0, prefix);

async function put(key: string, value: string): Promise<string> {
  const r = await fetch(`http://${pair!.A}/kv/${key}`, { method: 'PUT', body: value });
  assert.equal(r.status, 204);
  return r.headers.get('etag') ?? '';
}

async function get(node: string, key: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`http://${node}/kv/${key}`, { headers });
}

describe('conditions on a read', () => {
  it('answers 412 with the current version when If-Match names an older one, and never the changed value', async () => {
    const key = keyOf('gm-');
    const v1 = await put(key, 'one');
    const v2 = await put(key, 'two');
    const stale = await get(pair!.A, key, { 'If-Match': v1 });
    assert.equal(stale.status, 412, 'a read under an old version must not answer the new value');
    assert.equal(stale.headers.get('etag'), v2);
    const body = (await stale.json()) as { error: { code: string; version: string } };
    assert.equal(body.error.code, 'PRECONDITION_FAILED');
    assert.equal(`"${body.error.version}"`, v2);
    const fresh = await get(pair!.A, key, { 'If-Match': v2 });
    assert.equal(fresh.status, 200);
    assert.equal(await fresh.text(), 'two');
    const missing = await get(pair!.A, keyOf('gm-none-'), { 'If-Match': '*' });
    assert.equal(missing.status, 412);
    assert.equal(((await missing.json()) as { error: { version: null } }).error.version, null);
  });

  it('answers 304 with the ETag and no body when If-None-Match holds the current version, at the leader and a replica', async () => {
    const key = keyOf('gn-');
    const v = await put(key, 'cached');
    for (const node of [pair!.A, pair!.B]) {
      let r = await get(node, key, { 'If-None-Match': v });
      for (let i = 0; r.status === 404 && i < 200; i++) {
        // The replica may not have the write yet.
        await new Promise((res) => setTimeout(res, 10));
        r = await get(node, key, { 'If-None-Match': v });
      }
      assert.equal(r.status, 304, `at ${node}`);
      assert.equal(r.headers.get('etag'), v);
      assert.equal(await r.text(), '');
    }
    const weakList = await get(pair!.A, key, { 'If-None-Match': `"9.9", W/${v}` });
    assert.equal(weakList.status, 304, 'a weak tag in a list matches by weak comparison');
    const v2 = await put(key, 'changed');
    const changed = await get(pair!.A, key, { 'If-None-Match': v });
    assert.equal(changed.status, 200);
    assert.equal(changed.headers.get('etag'), v2);
    assert.equal(await changed.text(), 'changed');
    const star = await get(pair!.A, key, { 'If-None-Match': '*' });
    assert.equal(star.status, 304);
    const none = await get(pair!.A, keyOf('gn-none-'), { 'If-None-Match': '*' });
    assert.equal(none.status, 404);
  });

  it('refuses a malformed read condition with 400 naming the header', async () => {
    const key = keyOf('gb-');
    await put(key, 'x');
    for (const [name, value] of [
      ['If-Match', 'W/"0.1"'],
      ['If-Match', '"0.1", "0.2"'],
      ['If-None-Match', ','],
      // Taken as tags that matched nothing, answered 200 (a tester's finding).
      ['If-None-Match', 'garbage'],
      ['If-None-Match', '"0.1", garbage'],
      ['If-None-Match', '*, "0.1"'],
    ] as const) {
      const r = await get(pair!.A, key, { [name]: value });
      assert.equal(r.status, 400, `${name}: ${value}`);
      const e = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(e.error.code, 'INVALID_ARGUMENT');
      assert.match(e.error.message, new RegExp(name));
    }
  });

  it('carries a read condition through --proxy to the owner', async () => {
    const d = duo!;
    const key = d.keyOf(1, 'gp-');
    const w = await fetch(`http://${d.B}/kv/${key}`, { method: 'PUT', body: 'owned' });
    const v = w.headers.get('etag') ?? '';
    const notModified = await get(d.A, key, { 'If-None-Match': v });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get('etag'), v);
    const stale = await get(d.A, key, { 'If-Match': '"0.999999"' });
    assert.equal(stale.status, 412);
  });

  it('answers every combination of conditions as RFC 9110 evaluates them', async () => {
    const key = keyOf('gr-');
    let current: string | undefined;
    const tag = fc.constantFrom('current', 'old', 'other');
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.option(fc.oneof(fc.constant('*' as const), tag), { nil: undefined }),
        fc.option(
          fc.oneof(
            fc.constant('*' as const),
            fc.array(fc.tuple(tag, fc.boolean()), { minLength: 1, maxLength: 3 }),
          ),
          {
            nil: undefined,
          },
        ),
        async (write, ifMatch, ifNoneMatch) => {
          const old = current;
          if (write) current = await put(key, `v${Date.now()}`);
          const text = (t: string): string =>
            t === 'current' ? (current ?? '"0.1"') : t === 'old' ? (old ?? '"0.2"') : '"7.77"';
          const headers: Record<string, string> = {};
          if (ifMatch !== undefined) headers['If-Match'] = ifMatch === '*' ? '*' : text(ifMatch);
          if (ifNoneMatch !== undefined)
            headers['If-None-Match'] =
              ifNoneMatch === '*'
                ? '*'
                : ifNoneMatch.map(([t, weak]) => `${weak ? 'W/' : ''}${text(t)}`).join(', ');
          const r = await get(pair!.A, key, headers);
          await r.arrayBuffer();
          // RFC 9110 section 13.2.2: If-Match first (false: 412), then If-None-Match (true for a GET: 304).
          let want = current === undefined ? 404 : 200;
          const matchHolds =
            ifMatch === undefined ||
            (current !== undefined && (ifMatch === '*' || headers['If-Match'] === current));
          const listHas =
            ifNoneMatch !== undefined &&
            current !== undefined &&
            (ifNoneMatch === '*' ||
              headers['If-None-Match']!.split(', ').some((t) => t.replace(/^W\//, '') === current));
          if (!matchHolds) want = 412;
          else if (listHas) want = 304;
          assert.equal(r.status, want, JSON.stringify(headers));
        },
      ),
      { numRuns: 150 },
    );
  });
});
