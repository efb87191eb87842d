/**
 * A seeded model test of single-key conditional writes over HTTP (docs/api.md, "Versions" and
 * "TTL"): random PUTs and DELETEs on a few keys, each with no condition, If-Match with the current,
 * a stale, an unknown or a malformed version (leading zeros, weak tag, garbage) or `*`,
 * If-None-Match: * (a 400 on a DELETE), and valid or invalid ttl_ms, against a model that is a Map
 * from key to value and version. Every answer's status, ETag and 412 version must be the model's,
 * and a refused write must change nothing. Example tests found 00.05 read as 0.5 and DELETE taking
 * If-None-Match only after users did; this walks every combination. DISTKV_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

const OPS = 400;
const KEYS = ['a', 'b', '{c}1', '{c}2', 'é'];
const MAX_TTL_MS = 315360000000;

let own: OwnServer | undefined;
after(() => own?.stop());
let node = '';

before(async () => {
  const [port] = await freePorts(1);
  node = `127.0.0.1:${port}`;
  own = await startOwnServer([{ address: node }, { address: node }], '[server]\nresp_port_offset = 0', [
    '--workers',
    '1',
    '--durability',
    'none',
  ]);
});

/** Entry is the model's key: its value and version (the ETag without quotes). */
interface Entry {
  value: string;
  version: string;
}

/** Condition is a condition header as sent, and what the node must make of it. */
interface Condition {
  header?: [string, string];
  /** kind: what the condition means against the model ('bad' must be a 400). */
  kind: 'none' | 'match' | 'no-match' | 'exists' | 'absent' | 'bad';
}

/** conditionOf draws a condition for a key whose current entry is `cur` (seen: versions given before). */
function conditionOf(rand: () => number, cur: Entry | undefined, seen: string[]): Condition {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.2) return { kind: 'none' };
  if (r < 0.4 && cur !== undefined) return { header: ['if-match', `"${cur.version}"`], kind: 'match' };
  if (r < 0.45 && cur !== undefined) return { header: ['if-match', cur.version], kind: 'match' };
  if (r < 0.55 && seen.length > 0) {
    const v = pick(seen);
    return { header: ['if-match', `"${v}"`], kind: v === cur?.version ? 'match' : 'no-match' };
  }
  if (r < 0.6) return { header: ['if-match', '"0.999999999"'], kind: 'no-match' };
  if (r < 0.7) return { header: ['if-match', '*'], kind: cur === undefined ? 'no-match' : 'match' };
  if (r < 0.8) return { header: ['if-none-match', '*'], kind: cur === undefined ? 'absent' : 'exists' };
  const [e, s] = (cur?.version ?? pick(seen.length > 0 ? seen : ['0.1'])).split('.') as [string, string];
  const bad = pick([
    `"0${e}.${s}"`,
    `"${e}.0${s}"`,
    `W/"${e}.${s}"`,
    'garbage',
    `"${e}.${s}.1"`,
    `"${e}.${s}`,
  ]);
  return { header: ['if-match', bad], kind: 'bad' };
}

/** ttlOf draws a ttl_ms parameter: none, a long valid one, or an invalid one. */
function ttlOf(rand: () => number): { query: string; bad: boolean } {
  const r = rand();
  if (r < 0.7) return { query: '', bad: false };
  if (r < 0.85) return { query: `?ttl_ms=${3600000 + Math.floor(rand() * 1000)}`, bad: false };
  const bad = ['0', '-1', '1.5', 'abc', '', String(MAX_TTL_MS + 1), '99999999999999999999'];
  return { query: `?ttl_ms=${bad[Math.floor(rand() * bad.length)]!}`, bad: true };
}

describe('conditional writes against a model', () => {
  it('answers every random PUT and DELETE with the model status, ETag and 412 version', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const model = new Map<string, Entry>();
    // Versions each key was given (versions are per shard: two keys in two shards can share one).
    const seenOf = new Map<string, string[]>();
    const log: string[] = [];
    const url = (key: string, query = ''): string => `http://${node}/kv/${encodeURIComponent(key)}${query}`;
    try {
      for (let i = 0; i < OPS; i++) {
        const key = KEYS[Math.floor(rand() * KEYS.length)]!;
        const cur = model.get(key);
        const seen = seenOf.get(key) ?? [];
        seenOf.set(key, seen);
        const put = rand() < 0.65;
        const cond = conditionOf(rand, cur, seen);
        const ttl = put ? ttlOf(rand) : { query: '', bad: false };
        const value = `v${i}`;
        const headers: Record<string, string> =
          cond.header === undefined ? {} : { [cond.header[0]]: cond.header[1] };
        log.push(`${i}: ${put ? 'PUT' : 'DELETE'} ${key}${ttl.query} ${JSON.stringify(headers)}`);
        const res = await fetch(url(key, ttl.query), {
          method: put ? 'PUT' : 'DELETE',
          headers,
          ...(put ? { body: value } : {}),
        });
        const text = await res.text();
        const what = `${log.at(-1)!} -> ${res.status} ${text}`;
        const refused =
          cond.kind === 'bad' ||
          ttl.bad ||
          (!put && cond.kind === 'absent') ||
          (!put && cond.kind === 'exists');
        if (refused) assert.equal(res.status, 400, what);
        else if (cond.kind === 'no-match' || (put && cond.kind === 'exists')) {
          assert.equal(res.status, 412, what);
          const body = JSON.parse(text) as { error: { version: string | null } };
          assert.equal(body.error.version, cur?.version ?? null, what);
          assert.equal(res.headers.get('etag'), cur === undefined ? null : `"${cur.version}"`, what);
        } else {
          assert.equal(res.status, 204, what);
          if (put) {
            const etag = res.headers.get('etag');
            assert.match(etag ?? '', /^"(0|[1-9]\d*)\.([1-9]\d*)"$/, what);
            const version = etag!.slice(1, -1);
            assert.ok(!seen.includes(version), `${what}: version ${version} given twice`);
            seen.push(version);
            model.set(key, { value, version });
          } else {
            assert.equal(res.headers.get('x-distkv-existed'), cur === undefined ? '0' : '1', what);
            model.delete(key);
          }
        }
        // Read the key back: value and ETag are the model's, whatever the answer was.
        const got = await fetch(url(key));
        const gotText = await got.text();
        const want = model.get(key);
        assert.equal(got.status, want === undefined ? 404 : 200, `${what}; then GET ${gotText}`);
        if (want !== undefined) {
          assert.equal(gotText, want.value, what);
          assert.equal(got.headers.get('etag'), `"${want.version}"`, what);
        }
      }
    } catch (err) {
      process.stderr.write(
        `cas model failed with DISTKV_SEED=${seed}; last ops:\n${log.slice(-5).join('\n')}\n`,
      );
      throw err;
    }
  });
});
