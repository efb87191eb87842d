/**
 * A node restarting after a crash listens at once but answers 503 STARTING until its stores are
 * open (seconds with many keys to replay, src/http/route.ts). A request refused so was sent again
 * three times within a few hundred ms and then failed: `distkv get` run while the node came back
 * exited 1 with STARTING. Now the client waits for it as for a leader switch (bounded, sender.ts
 * STARTING_WAIT_MS), tells its `onWait` hook once, and the CLI says on stderr that it is waiting.
 * Twin: a one-shard node whose /cluster answers at once and whose key requests are refused with
 * STARTING for STARTING_FOR_MS from the first one.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, beforeEach, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { WaitNotice } from '../../src/client/types.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

/** STARTING_FOR_MS is how long the twin refuses key requests: longer than the old retries' ~350 ms. */
const STARTING_FOR_MS = 1500;

const twins: HandlerTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

let node = '';
/** startedAt is when the twin refused its first key request (the restart began), undefined before. */
let startedAt: number | undefined;
let refused = 0;

beforeEach(async () => {
  refused = 0;
  startedAt = undefined;
  const twin = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(node));
        return;
      }
      startedAt ??= performance.now();
      if (performance.now() - startedAt < STARTING_FOR_MS) {
        refused++;
        res.writeHead(503, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: { code: 'STARTING', message: 'node is starting; its stores are not open yet' },
          }),
        );
        return;
      }
      if (req.method === 'PUT') res.writeHead(204, { etag: '"1.7"' }).end();
      else res.writeHead(200, { etag: '"1.7"', 'content-type': 'application/octet-stream' }).end('hello');
    });
  });
  twins.push(twin);
  node = twin.address;
});

describe('a node that is starting', () => {
  it('is waited for by a read and a write, each telling onWait once', async () => {
    const notices: WaitNotice[] = [];
    const client = new DistkvClient({ urls: [node], onWait: (n) => notices.push(n) });
    try {
      assert.equal(await client.getString('k'), 'hello');
      assert.ok(refused > 3, `refused ${refused} times: more than the 3 retries of before`);
      assert.equal(notices.length, 1);
      const [first] = notices;
      assert.ok(first !== undefined);
      assert.equal(first.code, 'STARTING');
      assert.equal(first.node, node);
      assert.equal(first.shard, 0);
      assert.ok(first.waitMs > 10000, `waits up to ${first.waitMs} ms`);

      startedAt = undefined;
      assert.equal(await client.putVersioned('k', 'v'), '1.7');
      assert.equal(notices.length, 2);
    } finally {
      await client.close();
    }
  });

  it('is waited for by `distkv get`, which says so once on stderr and prints the value', async () => {
    const r = await runCli(['get', 'k', '--url', node]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello');
    const waits = r.stderr.split('\n').filter((l) => l.includes('is starting'));
    assert.equal(waits.length, 1, r.stderr);
    assert.match(
      waits[0]!,
      /^distkv get: node 127\.0\.0\.1:\d+ is starting .*waiting for it \(up to \d+ s; Ctrl-C gives up\)$/,
    );
  });

  it('stops the wait when the call is aborted', async () => {
    const client = new DistkvClient({ urls: [node] });
    try {
      await assert.rejects(client.get('k', { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' });
    } finally {
      await client.close();
    }
  });
});
