/**
 * A DistkvClient is unusable after close(): every call made after it rejects at once with
 * CLIENT_CLOSED and sends nothing (it reopened a keep-alive pool and was answered, leaving a
 * connection the caller believed closed). A call in flight when close() is called still gets its
 * answer, and closing twice is harmless. The twin is a one-shard node that counts connections and
 * requests; it holds the answer of `/kv/held` until told to answer.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let connections = 0;
const requests: string[] = [];
let release: (() => void) | undefined;

before(async () => {
  twin = await startOneShardTwin((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume().on('end', () => {
      const answer = (): void => {
        if (req.url === '/kv/_batch')
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ results: [{ ok: true, version: '1.2' }] }));
        else res.writeHead(200, { etag: '"1.2"', 'content-type': 'application/octet-stream' }).end('v');
      };
      if (req.url === '/kv/held') release = answer;
      else answer();
    });
  });
  twin.server.on('connection', () => connections++);
});
after(async () => {
  await twin.stop();
});

/** waitFor polls `cond` every 10 ms for up to 10 s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/** isClosedRefusal checks a rejection is CLIENT_CLOSED with the message that says what to do. */
function isClosedRefusal(err: unknown): boolean {
  assert.ok(err instanceof DistkvError, String(err));
  assert.equal(err.code, 'CLIENT_CLOSED');
  assert.equal(err.message, 'this DistkvClient was closed; create a new one');
  return true;
}

describe('DistkvClient after close()', () => {
  it('refuses every call made after close() with CLIENT_CLOSED, sending nothing', async () => {
    const client = new DistkvClient({ urls: [twin.address] });
    assert.equal(await client.getString('k'), 'v');
    await client.close();
    const seen = { connections, requests: requests.length };
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => client.get('k')],
      ['getVersioned', () => client.getVersioned('k')],
      ['put', () => client.put('k', 'v')],
      ['putVersioned', () => client.putVersioned('k', 'v')],
      ['delete', () => client.delete('k')],
      ['scanPage', () => client.scanPage('')],
      ['scan', () => client.scan('').next()],
      ['batch', () => client.batch([{ op: 'set', key: 'k', value: 'v' }])],
      ['cluster', () => client.cluster()],
      ['cluster of a node', () => client.cluster(twin.address)],
      ['nodeStats', () => client.nodeStats()],
      ['topology', () => client.topology()],
      ['reload', () => client.reload()],
      ['watch', () => client.watch('').next()],
    ];
    for (const [name, call] of calls) await assert.rejects(call(), isClosedRefusal, name);
    assert.deepEqual({ connections, requests: requests.length }, seen, 'nothing was sent after close()');
    await client.close();
  });

  it('answers a call in flight when close() is called', async () => {
    const client = new DistkvClient({ urls: [twin.address] });
    const held = client.getString('held');
    await waitFor(() => release !== undefined, 'the held request to reach the twin');
    const closing = client.close();
    release?.();
    assert.equal(await held, 'v');
    await closing;
    await assert.rejects(client.get('k'), isClosedRefusal);
  });
});
