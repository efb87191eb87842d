/**
 * The target a node sends on (src/http/target-path.ts): a `--proxy` relay's path and a 307's
 * `Location` must name, at the owner, the key the request named here. A seeded model over keys
 * built from the characters URL parsers rewrite (`\`, `.`, `..`, `%2e`, `/`) and from encoded,
 * raw UTF-8 and non-UTF-8 bytes: the key the owner decodes from the relayed path, and from the
 * `Location` once a WHATWG parser (fetch, undici) has resolved it, is the key decoded here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isHeadError, parseHead } from '../../src/http/http1-head.js';
import { keyFromPath, parseQuery } from '../../src/http/request-parse.js';
import { portableTarget } from '../../src/http/target-path.js';
import { testSeed } from '../helpers/random.js';

const MAX_KEY = 1024;

/** target parses `raw` (latin1 bytes, as on the wire) as a request target: path and query. */
function target(raw: string): { path: string; query: string } {
  const head = parseHead(`GET ${raw} HTTP/1.1\r\nHost: t`);
  if (isHeadError(head)) throw new Error(`${raw}: ${head.message}`);
  return { path: head.path, query: head.query };
}

/** keyAt is the key a node decodes from the target `raw`, as bytes (undefined: refused). */
function keyAt(raw: string): Buffer | undefined {
  try {
    const k = keyFromPath(target(raw).path, '/kv/'.length, MAX_KEY);
    return typeof k === 'string' ? Buffer.from(k, 'utf8') : k;
  } catch {
    return undefined;
  }
}

/** followed is the target a WHATWG client sends after resolving `location` (a path). */
function followed(location: string): string {
  const u = new URL(location, 'http://owner:1');
  return `${u.pathname}${u.search}`;
}

// Pieces of a key as sent: what URL parsers rewrite, escapes, raw UTF-8 ("é" as latin1 bytes).
const PIECES = ['a', 'b', '/', '.', '..', '\\', '%2e', '%2E', '%2F', '%5C', '\u00c3\u00a9', '%C3%A9', '%FF'];
const MORE = ['~', '%25', '+', ';', ':', '@', '{', '|', '^', '`', '"', '<', '>', "'", '$', '&', '='];

describe('the target sent on to an owner names the same key', () => {
  it('keeps the key through a relay and through a Location a WHATWG client follows (seeded)', () => {
    const seed = testSeed();
    const piece = fc.constantFrom(...PIECES, ...PIECES, ...MORE);
    try {
      fc.assert(
        fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (pieces) => {
          const raw = `/kv/${pieces.join('')}`;
          const here = keyAt(raw);
          fc.pre(here !== undefined);
          const { path, query } = target(raw);
          const sent = portableTarget(path, query);
          assert.match(sent, /^[\x21-\x7e]+$/, 'ASCII only, no space or control character');
          assert.deepEqual(keyAt(sent), here, `relayed ${JSON.stringify(sent)}`);
          // `.` and `..` whole are dot segments to a WHATWG parser however they are spelt.
          if (!/^\/kv\/(?:%2E){1,2}$/i.test(sent))
            assert.deepEqual(keyAt(followed(sent)), here, `Location ${JSON.stringify(sent)}`);
        }),
        { seed, numRuns: 2000 },
      );
    } catch (err) {
      throw new Error(`seed ${seed} (DISTKV_SEED=${seed} replays it): ${(err as Error).message}`);
    }
  });

  it('sends a\\b and x/./y so that a URL parser keeps them, and plain keys as they came', () => {
    assert.equal(portableTarget('/kv/a\\b', ''), '/kv/a%5Cb');
    assert.equal(portableTarget('/kv/x/./y', 'w=1'), '/kv/x%2F%2E%2Fy?w=1');
    assert.equal(portableTarget('/kv/x/../y', ''), '/kv/x%2F%2E%2E%2Fy');
    assert.equal(portableTarget('/kv/a/b.c', 'w=1'), '/kv/a/b.c?w=1', 'no dot segment: unchanged');
    assert.equal(portableTarget('/kv/k1', ''), '/kv/k1');
    assert.equal(portableTarget('/kv/caf\u00e9', ''), '/kv/caf%C3%A9');
    assert.equal(portableTarget('/get', 'key=caf\u00e9'), '/get?key=caf%C3%A9');
    assert.equal(parseQuery(target(portableTarget('/get', 'key=caf\u00e9')).query).params.get('key'), 'café');
  });
});
