/**
 * `--proxy` and write conditions (src/http/proxy.ts): two nodes, each the leader of one shard; a
 * conditional write for a key of node B sent to node A is forwarded with every If-Match /
 * If-None-Match field line as it came, so B answers exactly as it answers the same request sent to
 * it: a doubled or empty If-Match is refused, never turned into a write under the first condition
 * or into an unconditional one. The relayed key is the key sent, also when a URL parser would
 * rewrite it (`a\b`, `x/./y`; src/http/target-path.ts). Requests go over raw sockets: fetch()
 * would join repeated headers (and rewrite those paths itself).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { Duo } from '../helpers/duo.js';
import { parseRaw, rawRequest, type RawResponse } from '../helpers/raw-http.js';

let duo: Duo | undefined;
let a = '';
let b = '';
let key = '';
let map: ShardMap | undefined;

before(async () => {
  duo = await Duo.start('proxy-cond', { args: ['--proxy', '--inline'] });
  ({ A: a, B: b, map } = duo);
  key = duo.keyOf(1, 'cond-');
});

after(async () => {
  await duo?.stop();
});

/**
 * rawTo writes `data` to `node` (host:port) over a raw socket and returns what came back. Every
 * request here says `Connection: close`: the answer ends when the node closes. The idle limit is
 * only a bound (it was 2 s, which cut off an answer a stalled owner gave later as nothing).
 */
function rawTo(node: string, data: string): Promise<string> {
  const at = node.lastIndexOf(':');
  return rawRequest(Number(node.slice(at + 1)), data, { host: node.slice(0, at), idleMs: 30_000 });
}

/** sendTo writes `method target` with `body` to `node` over a raw socket, as sent. */
async function sendTo(node: string, method: string, target: string, body = ''): Promise<RawResponse> {
  const head = `${method} ${target} HTTP/1.1\r\nHost: ${node}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}`;
  return parseRaw(await rawTo(node, `${head}\r\n\r\n${body}`));
}

/** send writes one request with `headers` (each a field line of its own) to `node` over a raw socket. */
async function send(node: string, method: string, headers: string[], body = ''): Promise<RawResponse> {
  const head = [
    `${method} /kv/${key} HTTP/1.1`,
    `Host: ${node}`,
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...headers,
  ];
  return parseRaw(await rawTo(node, `${head.join('\r\n')}\r\n\r\n${body}`));
}

/** codeOf is the error code of a JSON error answer, or '' for any other body. */
function codeOf(r: RawResponse): string {
  try {
    return (JSON.parse(r.body) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
}

/** valueAtOwner reads the key straight from its owner. */
async function valueAtOwner(): Promise<string> {
  const r = await fetch(`http://${b}/kv/${key}`);
  return r.status === 200 ? await r.text() : `(${r.status})`;
}

describe('--proxy forwards write conditions as the owner checks them', () => {
  const cases: { name: string; method: string; headers: string[] }[] = [
    { name: 'If-Match: * then a version', method: 'PUT', headers: ['If-Match: *', 'If-Match: "0.999999"'] },
    { name: 'a version then If-Match: *', method: 'PUT', headers: ['If-Match: "0.999999"', 'If-Match: *'] },
    { name: 'an empty If-Match', method: 'PUT', headers: ['If-Match:'] },
    { name: 'If-None-Match: * twice', method: 'PUT', headers: ['If-None-Match: *', 'If-None-Match: *'] },
    { name: 'If-Match and If-None-Match', method: 'PUT', headers: ['If-Match: *', 'If-None-Match: *'] },
    {
      name: 'a DELETE with If-Match: * then a version',
      method: 'DELETE',
      headers: ['If-Match: *', 'If-Match: "0.999999"'],
    },
    { name: 'a DELETE with an empty If-Match', method: 'DELETE', headers: ['If-Match:'] },
  ];

  for (const c of cases)
    it(`answers ${c.name} through the proxy as the owner does, and writes nothing`, async () => {
      const put = await fetch(`http://${b}/kv/${key}`, { method: 'PUT', body: 'original' });
      assert.equal(put.status, 204);
      const body = c.method === 'PUT' ? 'changed' : '';
      const direct = await send(b, c.method, c.headers, body);
      assert.equal(await valueAtOwner(), 'original', 'the owner refused it itself');
      const proxied = await send(a, c.method, c.headers, body);
      assert.equal(await valueAtOwner(), 'original', 'nothing was written through the proxy');
      assert.equal(proxied.status, direct.status, `status via the proxy: ${proxied.body}`);
      assert.equal(codeOf(proxied), codeOf(direct));
      assert.equal(direct.status, 400, direct.body);
    });

  it('still forwards a single matching If-Match (the write goes through)', async () => {
    const put = await fetch(`http://${b}/kv/${key}`, { method: 'PUT', body: 'v1' });
    const etag = put.headers.get('etag')!;
    const proxied = await send(a, 'PUT', [`If-Match: ${etag}`], 'v2');
    assert.equal(proxied.status, 204, proxied.body);
    assert.equal(await valueAtOwner(), 'v2');
    const stale = await send(a, 'PUT', [`If-Match: ${etag}`], 'v3');
    assert.equal(stale.status, 412, stale.body);
    assert.equal(await valueAtOwner(), 'v2');
  });
});

describe('--proxy relays the key as it was sent', () => {
  // Keys a URL parser rewrites (`\\` into `/`, dot segments removed): relayed through undici's
  // request(url), `{t}/a\\b` was written at the owner as `{t}/a/b`, answered 204. A hash tag
  // keeps both spellings in node B's shard, so the rewritten key was written there, unnoticed.
  const tag = (): string => {
    const n = Array.from({ length: 100 }, (_, i) => i).find((i) => map!.shardOf(`{t${i}}`) === 1);
    assert.ok(n !== undefined);
    return `{t${n}}`;
  };
  for (const [name, raw] of [
    ['a backslash', '/a\\b'],
    ['a dot segment', '/a/./b'],
    ['a double-dot segment', '/x/../a/b'],
  ] as const)
    it(`writes and reads a key with ${name} at the owner under that key`, async () => {
      const [sent, other] = [`${tag()}${raw}`, `${tag()}/a/b`];
      assert.equal(map!.shardOf(sent), 1);
      const put = await sendTo(a, 'PUT', `/kv/${sent}`, name);
      assert.equal(put.status, 204, put.body);
      const atOwner = await fetch(`http://${b}/kv/${encodeURIComponent(sent)}`);
      assert.equal(await atOwner.text(), name, `the owner holds ${JSON.stringify(sent)}`);
      const wrong = await fetch(`http://${b}/kv/${encodeURIComponent(other)}`);
      assert.equal(wrong.status, 404, `nothing written under ${JSON.stringify(other)}`);
      const get = await sendTo(a, 'GET', `/kv/${sent}`);
      assert.equal(get.body, name, 'read back through the proxy');
    });
});
