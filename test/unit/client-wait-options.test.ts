/**
 * How long a client waits out a leader switch (503 SWITCHING_LEADER) and a starting node (503
 * STARTING) was fixed at 15 s and 60 s (src/client/sender.ts): an application with a tighter
 * deadline of its own (a request handler with 2 s to answer) could only abort each call, and one
 * that would rather ride out a slow failover or a long replay could not wait longer. The client's
 * `switchWaitMs` and `startingWaitMs` set them; the defaults stay 15 s and 60 s.
 * Twin: a one-shard node whose /cluster answers at once and whose key requests are refused with
 * the code the test sets, for as long as the test runs.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { ClientOptions, WaitNotice } from '../../src/client/types.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let node = '';
/** refusal is the code the twin refuses key requests with. */
let refusal = 'SWITCHING_LEADER';
let refused = 0;

before(async () => {
  twin = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(node));
        return;
      }
      refused++;
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
        .end(JSON.stringify({ error: { code: refusal, message: `refused with ${refusal}` } }));
    });
  });
  node = twin.address;
});
after(async () => {
  await twin.stop();
});

/** asOptions passes options as JavaScript may, unchecked by the types. */
const asOptions = (o: Record<string, unknown>): ClientOptions => o as unknown as ClientOptions;

/** timed runs `call` and returns how long it took to reject, and with what. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await call();
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
  throw new Error('the call did not reject');
}

describe("the client's waits", () => {
  for (const [code, option] of [
    ['SWITCHING_LEADER', 'switchWaitMs'],
    ['STARTING', 'startingWaitMs'],
  ] as const) {
    it(`${option} bounds how long a write and a read wait out ${code}`, async () => {
      refusal = code;
      const notices: WaitNotice[] = [];
      const client = new DistkvClient({ urls: [node], [option]: 400, onWait: (n) => notices.push(n) });
      try {
        for (const call of [() => client.put('k', 'v'), () => client.get('k')]) {
          refused = 0;
          const { ms, err } = await timed(call);
          assert.equal((err as { code?: string }).code, code, String(err));
          assert.ok(refused >= 2, `sent ${refused} times: waited, not failed at once`);
          // 400 ms of waiting, a few retries' sleeps past it, and a loaded machine: far below the default.
          assert.ok(ms >= 350 && ms < 5000, `rejected after ${Math.round(ms)} ms`);
        }
        assert.deepEqual(
          notices.map((n) => n.code),
          [code, code],
        );
        assert.ok(
          notices.every((n) => n.waitMs <= 400),
          JSON.stringify(notices),
        );
      } finally {
        await client.close();
      }
    });
  }

  it('waits 15 s for a switch and 60 s for a start by default (told to onWait)', async () => {
    const notices: WaitNotice[] = [];
    const client = new DistkvClient({ urls: [node], onWait: (n) => notices.push(n) });
    try {
      for (const code of ['SWITCHING_LEADER', 'STARTING']) {
        refusal = code;
        await assert.rejects(client.get('k', { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' });
      }
      const waits = notices.map((n) => [n.code, Math.round(n.waitMs / 1000)]);
      assert.deepEqual(waits, [
        ['SWITCHING_LEADER', 15],
        ['STARTING', 60],
      ]);
    } finally {
      await client.close();
    }
  });

  it('refuses a wait that is not a number of milliseconds', () => {
    for (const [option, value] of [
      ['switchWaitMs', -1],
      ['startingWaitMs', '5000'],
      ['switchWaitMs', Infinity],
    ] as const)
      assert.throws(() => new DistkvClient(asOptions({ urls: [node], [option]: value })), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`option ${option} must be a number of milliseconds`),
      });
  });
});
