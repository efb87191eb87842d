/**
 * The single-key fast path (src/http/kv-fast.ts) answers exactly as the general path: two spawned
 * servers of the same layout (test/helpers/hosted-pair.ts: node A leads shards 0 and 1, shard 2 is
 * led by a node C that is not running), one with the fast path and one with
 * `DISTKV_KV_FAST_PATH=0`, are sent the same seeded, shrinking random pipelines of GET, HEAD, PUT,
 * DELETE and POST on `/kv/{key}`: plain keys of every shard (served here, or a 307 to C), keys
 * percent-encoded, in raw UTF-8, with a bad `%`, empty, `_batch`, at and over max_key_bytes, with
 * `\` and dot segments; queries known, unknown, empty, repeated, out of range or not numbers;
 * If-Match and If-None-Match, also malformed; Expect: 100-continue; HTTP/1.0;
 * bodies of 0 bytes to over max_value_bytes, by Content-Length, chunked or none; the
 * forwarded-request header; Connection: close. Every answer must be the same bytes, once the
 * parts that name the server are made the same (the Date line, its addresses, its config hash)
 * and `100 Continue` (sent or not depending on when earlier answers complete) is dropped; and the
 * request metrics of the key routes must count the same.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { keyInShard, startHostedPair, type HostedPair } from '../helpers/hosted-pair.js';
import { testSeed } from '../helpers/random.js';
import { rawRequest } from '../helpers/raw-http.js';

const MAX_KEY = 64;
const MAX_VALUE = 512;
const CONFIG = `[server]\nmax_key_bytes = ${MAX_KEY}\nmax_value_bytes = ${MAX_VALUE}\n`;

let fast: HostedPair | undefined;
let general: HostedPair | undefined;

// One after the other: two starting at once on a loaded machine may miss the start timeout.
before(async () => {
  fast = await startHostedPair(CONFIG);
  general = await startHostedPair(CONFIG, { DISTKV_KV_FAST_PATH: '0' });
});

after(async () => {
  await Promise.all([fast?.stop(), general?.stop()]);
});

interface Req {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
  key: string;
  query: string;
  headers: string[];
  body: { framing: 'length' | 'chunked' | 'none'; size: number };
  http10: boolean;
}

// Keys as sent in the path. keyInShard picks by the slot function, the same for both servers.
function keys(p: HostedPair): string[] {
  const plain = [0, 1, 2].flatMap((s) => [keyInShard(p.shardMap, s, 'k'), keyInShard(p.shardMap, s, 'x-')]);
  return [
    ...plain,
    ...plain,
    'a%20b',
    'caf%C3%A9',
    'caf\u00c3\u00a9', // raw UTF-8 bytes of "café", as latin1 characters on the wire
    'bad%zz',
    '%FF%FE',
    '',
    '_batch',
    'a+b',
    'a/b',
    'k'.repeat(MAX_KEY),
    'k'.repeat(MAX_KEY + 1),
    '~!$&()*,;=:@',
    'a\\b',
    'x/./y',
    'x/../k',
  ];
}

const reqArb = (keyList: string[]): fc.Arbitrary<Req> =>
  fc.record({
    method: fc.constantFrom('GET', 'GET', 'PUT', 'PUT', 'DELETE', 'HEAD', 'POST'),
    key: fc.constantFrom(...keyList),
    query: fc.constantFrom(
      '',
      '',
      '',
      '',
      '?',
      '?w=0',
      '?ttl_ms=600000',
      '?max_lag_ms=5',
      '?bogus=1',
      '?w=1&w=1',
      '?w=abc',
      '?w=99',
      '?ttl_ms=-1',
      '?timeout_ms=0',
      '?max_lag_ms=-1',
    ),
    headers: fc.subarray(
      [
        'If-Match: *',
        'If-Match: "1.2"',
        'If-None-Match: *',
        'If-Match: "x',
        'If-Match:',
        'If-None-Match: "1.2"',
        'X-Distkv-Forwarded: 1',
        'Expect: 100-continue',
        'Accept: */*',
        'Connection: close',
      ],
      { maxLength: 2 },
    ),
    body: fc.record({
      framing: fc.constantFrom('length', 'length', 'length', 'chunked', 'none'),
      size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(MAX_VALUE, MAX_VALUE + 1)),
    }),
    http10: fc.constant(false), // one request per pipeline at most is HTTP/1.0 (below)
  });

function encode(r: Req, i: number): string {
  const value = String.fromCharCode(0x61 + (i % 26)).repeat(r.body.size);
  const lines = [`${r.method} /kv/${r.key}${r.query} HTTP/1.${r.http10 ? 0 : 1}`, 'Host: t', ...r.headers];
  let body = '';
  if (r.body.framing === 'length') {
    lines.push(`Content-Length: ${value.length}`);
    body = value;
  } else if (r.body.framing === 'chunked' && !r.http10) {
    lines.push('Transfer-Encoding: chunked');
    body = value.length === 0 ? '0\r\n\r\n' : `${value.length.toString(16)}\r\n${value}\r\n0\r\n\r\n`;
  }
  if (r.http10) lines.push('Connection: keep-alive');
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** exchange sends the pipeline (ended by a closing /healthz) and returns what came back, made comparable. */
async function exchange(p: HostedPair, wire: string): Promise<string> {
  const out = await rawRequest(p.portA, Buffer.from(wire, 'latin1'), { idleMs: 3000 });
  return out
    .replaceAll('HTTP/1.1 100 Continue\r\n\r\n', '')
    .replace(/^Date: .*$/gm, 'Date: -')
    .replace(/^X-Distkv-Config: .*$/gm, 'X-Distkv-Config: -')
    .replaceAll(p.A, 'A')
    .replaceAll(p.B, 'B')
    .replaceAll(p.C, 'C');
}

/** keyCounts returns the request counters of the single-key routes and redirects, without the node label. */
async function keyCounts(p: HostedPair): Promise<string[]> {
  const text = await (await fetch(`http://${p.A}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => /^distkv_http_requests_total\{.*route="(kv_get|kv_put|kv_delete|redirect)"/.test(l))
    .map((l) => l.replace(/node="[^"]*",?/, ''))
    .sort();
}

describe('the single-key fast path', () => {
  it('answers every request with the bytes the general path answers (seeded, shrinking)', async () => {
    const [f, g] = [fast!, general!];
    const keyList = keys(f);
    assert.deepEqual(keys(g), keyList);
    await fc.assert(
      fc.asyncProperty(
        fc.array(reqArb(keyList), { minLength: 1, maxLength: 24 }),
        fc.nat({ max: 47 }),
        async (reqs, oldAt) => {
          if (oldAt < reqs.length) reqs[oldAt]!.http10 = true;
          const wire =
            reqs.map((r, i) => encode(r, i)).join('') +
            'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n';
          const [a, b] = [await exchange(f, wire), await exchange(g, wire)];
          assert.equal(a, b, `requests:\n${wire}`);
          assert.match(a, /HTTP\/1\.1 \d{3} /);
        },
      ),
      { seed: testSeed(), numRuns: 60 },
    );
    // And counted them the same: route, method, status and code of every single-key answer.
    assert.deepEqual(await keyCounts(f), await keyCounts(g));
  });
});
