/**
 * `distkv map fetch --from ADDR` where ADDR is not a distkv node (another web server, a port of
 * another service): its 404 page was put whole in the error (`answered GET /cluster with 404:`
 * then 200 characters of HTML, newlines and all). It now says the peer did not answer as a
 * distkv node, with the status, the content type and at most a short first line of the body. A
 * node's own refusal (a catalogue error, e.g. a token it wants) is still said as the node put it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG_FILE = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));
const root = tempDir(after, 'distkv-map-fetch-peer-');

const PAGE = `<!DOCTYPE html>
<html><head><title>404 Not Found</title></head>
<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>
${'<p>padding padding padding padding</p>\n'.repeat(20)}</body></html>
`;

/** Answer is what the peer sends: status, content type and body. */
interface Answer {
  status: number;
  type: string;
  body: string;
}

describe('distkv map fetch from a server that is not a distkv node', () => {
  let peer: Server;
  let addr = '';
  let answer: Answer = { status: 404, type: 'text/html', body: PAGE };
  before(async () => {
    peer = createServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    addr = `127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => peer.close(r));
  });

  const fetchMap = (): ReturnType<typeof runCli> =>
    runCli([
      'map',
      'fetch',
      '--from',
      addr,
      '--config',
      CONFIG_FILE,
      '--data-dir',
      mkdtempSync(join(root, 'd-')),
    ]);

  it('says a 404 page is not a distkv node, with its status and a short first line only', async () => {
    answer = { status: 404, type: 'text/html', body: PAGE };
    const r = await fetchMap();
    assert.equal(r.code, 1, r.stderr);
    const first = r.stderr.split('\n')[0]!;
    assert.match(
      first,
      /SHARD_UNREACHABLE: http:\/\/127\.0\.0\.1:\d+ did not answer GET \/cluster as a distkv node \(404 Not Found, text\/html; body: "<!DOCTYPE html>"\): is --from the HTTP address of a running node\?/,
    );
    assert.doesNotMatch(r.stderr, /<title>|<h1>|padding/, 'nothing of the page past its first line');
  });

  it('says so of a 200 answer that is not JSON, cutting a long line', async () => {
    answer = { status: 200, type: 'text/plain', body: `${'x'.repeat(500)}\nsecond line` };
    const r = await fetchMap();
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /did not answer GET \/cluster as a distkv node \(200, not JSON, text\/plain; body: "x{80}…"\)/,
    );
    assert.doesNotMatch(r.stderr, /x{81}|second line/);
  });

  it("still says a node's own refusal as the node put it", async () => {
    answer = {
      status: 401,
      type: 'application/json',
      body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'a bearer token is required' } }),
    };
    const r = await fetchMap();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /answered GET \/cluster with 401 UNAUTHORIZED: a bearer token is required/);
  });
});
