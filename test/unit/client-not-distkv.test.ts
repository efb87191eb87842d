/**
 * A client (and so the CLI) given the address of a server that is not a distkv node (another
 * service's HTTP port, a web server): its /cluster answers 404 or an HTML page. The user read
 * "NOT_FOUND: Not Found" from `distkv cluster`, "no node answered /cluster (...): Not Found" from
 * `distkv get`, or "INTERNAL: ... not a JSON object": now each says the address does not answer
 * as a distkv node, with what it answered, and asks whether it is a node's HTTP address.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

async function server(status: number, type: string, body: string): Promise<string> {
  const t = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(status, { 'content-type': type }).end(body);
  });
  twins.push(t);
  return t.address;
}

const NOT_DISTKV =
  /127\.0\.0\.1:\d+ does not answer as a distkv node \(GET \/cluster: .+\): is it the HTTP address of a node of the cluster\?/;

describe('a --url that is not a distkv node', () => {
  for (const [what, status, type, body, answered] of [
    ['a 404 page', 404, 'text/plain', 'Not Found', /GET \/cluster: 404 Not Found\)/],
    [
      'an HTML page',
      200,
      'text/html',
      '<html>hello</html>',
      /the answer is not a JSON object \("<html>hello<\/html>"\)/,
    ],
    [
      'JSON of another service',
      200,
      'application/json',
      '{"status":"ok"}',
      /the answer has no "shards" list/,
    ],
  ] as const) {
    it(`is said to be no distkv node, by a key call and by cluster() (${what})`, async () => {
      const node = await server(status, type, body);
      const client = new DistkvClient({ urls: [node], retries: 0 });
      try {
        for (const call of [() => client.get('k'), () => client.cluster()]) {
          await assert.rejects(call(), (err: Error) => {
            assert.match(err.message, NOT_DISTKV);
            assert.match(err.message, answered);
            return true;
          });
        }
      } finally {
        await client.close();
      }
    });
  }

  it('is said to be no distkv node by `distkv cluster` and `distkv get` (exit 1)', async () => {
    const node = await server(404, 'text/plain', 'Not Found');
    for (const args of [['cluster'], ['get', 'k']]) {
      const r = await runCli([...args, '--url', node]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, NOT_DISTKV);
    }
  });
});
