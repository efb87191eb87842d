/**
 * A write a `--proxy` node relayed to its owner, whose answer the node did not get (the owner
 * applied it, then went silent), is not sent again by the client library after a failover. The
 * node's 503 said "may have been applied" with the code a never-sent relay also had
 * (SHARD_UNREACHABLE), and the client routed such a key request once more when a reloaded map
 * named another leader: the write reached the owner twice (an `ifNoneMatch` put then failed 412
 * against its own write; an unconditional one could undo another client's later write). A relay
 * that never reached the owner (its connection refused) is still sent again to the new leader.
 *
 * The node is a real HTTP/1 server with the key routes in proxy mode over a twin context whose one
 * shard another node leads (remote-shard-context.ts); the owner is a twin that answers
 * `/cluster` (the node leads in map 1; the owner itself in map 2, once it took the write) and
 * records each PUT: the first it applies and never answers, a repeat it refuses with 412.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { Forwarder } from '../../src/http/forwarder.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import { freePort } from '../helpers/ports.js';
import { type OwnerTarget, remoteShardContext } from '../helpers/remote-shard-context.js';
import { startRouterServer } from '../helpers/router-server.js';
import {
  type HandlerTwin,
  oneShardView,
  startHandlerTwin,
  startOneShardTwin,
} from '../helpers/twin-server.js';

/** RELAY_MS bounds the node's relay: the owner's silence is reported after it. */
const RELAY_MS = 600;
const forwarder = new Forwarder('http', 'cfg', undefined, { forwardMs: RELAY_MS, relayMs: RELAY_MS });
/** target is where the node relays shard 0's writes (the owner, or an address nothing listens at). */
const target: OwnerTarget = { local: false, address: '' };
let server: Http1Server | undefined;
let node = '';
let owner: HandlerTwin;
/** puts are the PUTs that reached the owner, each with its If-None-Match. */
const puts: string[] = [];
/** applied: the owner applied a write of the key; movedTo: map 2 names this leader (empty: map 1, the node). */
let applied = false;
let movedTo = '';

/** ownerHandler answers /cluster with the current map, and the key's PUTs as the brief above says. */
function ownerHandler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/cluster') {
    const view = movedTo === '' ? oneShardView(node, 1) : oneShardView(movedTo, 2);
    res.writeHead(200, { 'content-type': 'application/json' }).end(view);
    return;
  }
  req.resume();
  req.on('end', () => {
    puts.push(`${req.method ?? ''} ${req.url ?? ''} if-none-match=${String(req.headers['if-none-match'])}`);
    if (!applied && target.address === owner.address) {
      // Applied, then silent: the relay's bound runs out, and a failover names this owner.
      applied = true;
      movedTo = owner.address;
      return;
    }
    if (applied && req.headers['if-none-match'] === '*') {
      const error = { code: 'PRECONDITION_FAILED', message: 'the key exists (version 2.1)', version: '2.1' };
      res.writeHead(412, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
      return;
    }
    applied = true;
    res.writeHead(204, { etag: '"2.1"' }).end();
  });
}

before(async () => {
  owner = await startHandlerTwin(ownerHandler);
  const ctx = remoteShardContext(target, forwarder);
  const router = new Router();
  registerKvRoutes(router, ctx);
  let port: number;
  ({ port, server } = await startRouterServer(router));
  node = `127.0.0.1:${port}`;
});

beforeEach(() => {
  puts.length = 0;
  applied = false;
  movedTo = '';
});

after(async () => {
  server?.close();
  await forwarder.close();
  await owner.stop();
});

/** putOnce puts `k` with ifNoneMatch through a client whose map names the node, and returns how it settled. */
async function putOnce(): Promise<unknown> {
  const client = new DistkvClient({ urls: [owner.address], timeoutMs: 20_000 });
  try {
    await client.topology();
    return await client.put('k', 'v', { ifNoneMatch: true }).then(
      () => 'ok',
      (e: unknown) => e,
    );
  } finally {
    await client.close();
  }
}

describe('a write the node relayed and the owner did not answer', () => {
  it('is not sent again by the client after a failover: OutcomeUnknownError, applied once', async () => {
    target.address = owner.address;
    const err = await putOnce();
    assert.deepEqual(puts, ['PUT /kv/k if-none-match=*'], 'the relayed write was sent again');
    assert.ok(err instanceof OutcomeUnknownError, String(err));
    assert.equal(err.code, 'OUTCOME_UNKNOWN');
    assert.match(err.message, /may have been applied/);
  });

  it('is sent again to the new leader when the relay never reached the owner', async () => {
    target.address = `127.0.0.1:${await freePort()}`;
    const client = new DistkvClient({ urls: [owner.address], timeoutMs: 20_000 });
    try {
      await client.topology();
      // The failover happened after the client loaded its map: the node still relays to the old owner.
      movedTo = owner.address;
      await client.put('k', 'v', { ifNoneMatch: true });
      assert.deepEqual(puts, ['PUT /kv/k if-none-match=*']);
    } finally {
      await client.close();
    }
  });

  it('is answered 503 OUTCOME_UNKNOWN on the wire when sent, SHARD_UNREACHABLE when never sent', async () => {
    const codeOf = async (): Promise<string> => {
      const res = await fetch(`http://${node}/kv/k`, { method: 'PUT', body: 'v' });
      assert.equal(res.status, 503);
      return ((await res.json()) as { error: { code: string } }).error.code;
    };
    target.address = owner.address;
    assert.equal(await codeOf(), 'OUTCOME_UNKNOWN');
    target.address = `127.0.0.1:${await freePort()}`;
    assert.equal(await codeOf(), 'SHARD_UNREACHABLE');
  });
});

describe('a batch with conditions a node forwarded and its owner did not answer (503 OUTCOME_UNKNOWN)', () => {
  it('is an OutcomeUnknownError result, not sent again', async () => {
    let batches = 0;
    const twin = await startOneShardTwin((req, res) => {
      batches++;
      const error = { code: 'OUTCOME_UNKNOWN', message: 'shard 0 (owner o) did not answer: ...' };
      req.resume().on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
      });
    });
    const client = new DistkvClient({ urls: [twin.address] });
    try {
      const [result] = await client.batch([{ op: 'set', key: 'k', value: 'v', ifNoneMatch: true }]);
      assert.ok(result !== undefined && !result.ok, 'the batch was applied');
      assert.ok(result.error instanceof OutcomeUnknownError, String(result.error));
      assert.equal(batches, 1);
    } finally {
      await client.close();
      await twin.stop();
    }
  });
});
