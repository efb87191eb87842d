/**
 * Writes pipelined on one connection and forwarded to their owner (`--proxy` relays, batch parts)
 * reach the owner in the order they came: the second goes out once the owner has answered the
 * first (src/http/forwarder.ts, inOrder). They went out at once on separate connections, so the
 * owner could apply them in either order: PUT of a large value then of a small one to one key,
 * both 204, left the large one. Here the owner is a twin that answers the first write late and
 * logs what arrives when; the node is a real HTTP/1 server with the key routes over a twin
 * context whose one shard another node leads.
 *
 * The owner never answers a write of "stuck": the writes pipelined behind it are held back, not
 * sent, and answered "not applied" as soon as it times out (one bound for them all, not one each,
 * and none of them can reach the owner after a write it may still apply).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { registerCollectionRoutes } from '../../src/http/collection-routes.js';
import { Forwarder, HOLD_BACK_MS } from '../../src/http/forwarder.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import { openRaw, until } from '../helpers/raw-conn.js';
import { rawRequest } from '../helpers/raw-http.js';
import { remoteShardContext } from '../helpers/remote-shard-context.js';
import { startRouterServer } from '../helpers/router-server.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const events: string[] = [];
let owner: HandlerTwin | undefined;
let server: Http1Server | undefined;
let port = 0;
/** BOUND_MS bounds each forwarded write (a relay and a batch part alike); "stuck" misses it. */
const BOUND_MS = 1500;
const forwarder = new Forwarder('http', 'cfg', undefined, { forwardMs: BOUND_MS, relayMs: BOUND_MS });

/** valueOf is what a forwarded write carries: a PUT's body, or a batch's one value (base64 on the wire). */
function valueOf(body: string): string {
  if (!body.startsWith('[')) return body;
  const [op] = JSON.parse(body) as { value_base64: string }[];
  return Buffer.from(op!.value_base64, 'base64').toString();
}

before(async () => {
  // The owner answers the write of "first" 300 ms late, every other at once.
  owner = await startHandlerTwin((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const value = valueOf(body);
      events.push(`arrived ${value}`);
      const answer = (): void => {
        events.push(`answered ${value}`);
        if (req.url?.startsWith('/kv/_batch') === true)
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"ok":true}]}');
        else res.writeHead(204).end();
      };
      if (value === 'first') setTimeout(answer, 300);
      else if (value !== 'stuck') answer();
    });
  });
  const ctx = remoteShardContext({ local: false, address: owner.address }, forwarder);
  const router = new Router();
  registerKvRoutes(router, ctx);
  registerCollectionRoutes(router, ctx);
  ({ port, server } = await startRouterServer(router));
});

after(async () => {
  server?.close();
  await forwarder.close();
  await owner?.stop();
});

const statusLines = (text: string): string[] =>
  text.match(/^HTTP\/1\.1 \d+[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/gm) ?? [];

/** errorMessages are the `error.message`s in the JSON answers in `text` (a batch's in its results), in order. */
const errorMessages = (text: string): string[] =>
  [...text.matchAll(/"error":\{"code":"[A-Z_]+","message":("(?:[^"\\]|\\.)*")/g)].map(
    (m) => JSON.parse(m[1]!) as string,
  );

/**
 * pipelineText sends `requests` at once on one connection and resolves with what came back, once
 * every request has its answer's head (on a loaded machine the owner's late answer can take more
 * than a second: an idle limit cut it off, and the next test then saw this one's forwards).
 */
function pipelineText(requests: string[]): Promise<string> {
  return rawRequest(port, requests.join(''), {
    idleMs: 20_000,
    until: (text) => statusLines(text).length >= requests.length,
  });
}

/** pipeline is pipelineText's answers' status lines. */
async function pipeline(requests: string[]): Promise<string[]> {
  return statusLines(await pipelineText(requests)).map((head) => head.slice(0, 12));
}

const put = (value: string): string =>
  `PUT /kv/k HTTP/1.1\r\nHost: t\r\nContent-Length: ${value.length}\r\n\r\n${value}`;
const batch = (value: string): string => {
  const body = JSON.stringify([{ op: 'set', key: 'k', value }]);
  return `POST /kv/_batch HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

describe('writes forwarded from one connection', () => {
  for (const [name, make] of [
    ['--proxy PUTs', put],
    ['batches', batch],
  ] as const)
    it(`reach the owner in the order they came: ${name}`, async () => {
      events.length = 0;
      const answers = await pipeline([make('first'), make('second'), make('third')]);
      assert.equal(answers.length, 3);
      assert.deepEqual(
        events,
        [
          'arrived first',
          'answered first',
          'arrived second',
          'answered second',
          'arrived third',
          'answered third',
        ],
        'each write went out once the one before was answered',
      );
    });
});

describe('writes pipelined behind one their owner does not answer', () => {
  const N = 10;
  for (const [name, make, unanswered, notSent] of [
    [
      '--proxy PUTs',
      put,
      'the write may have been applied',
      'nothing was sent to it: the write was not applied',
    ],
    [
      'batches',
      batch,
      'the operations sent to it may have been applied',
      'nothing was sent to it, so none of its operations was applied',
    ],
  ] as const)
    it(`are answered "not applied" within one bound, never sent: ${name}`, async () => {
      events.length = 0;
      const start = performance.now();
      const text = await pipelineText([
        make('stuck'),
        ...Array.from({ length: N - 1 }, (_, i) => make(`behind-${String(i)}`)),
      ]);
      const ms = performance.now() - start;
      const heads = statusLines(text).map((head) => head.slice(0, 12));
      assert.equal(heads.length, N);
      assert.ok(
        ms < 2 * BOUND_MS,
        `${String(N)} writes answered after ${ms.toFixed(0)} ms (bound ${String(BOUND_MS)} ms each)`,
      );
      assert.deepEqual(events, ['arrived stuck'], 'no write behind the unanswered one reached the owner');
      const messages = errorMessages(text);
      assert.equal(messages.length, N);
      assert.ok(messages[0]!.includes(`no answer within ${String(BOUND_MS)} ms`), messages[0]);
      assert.ok(messages[0]!.endsWith(unanswered), messages[0]);
      for (const m of messages.slice(1)) {
        assert.ok(m.includes('so this one was held back'), m);
        assert.ok(m.endsWith(notSent), m);
      }
      if (name === '--proxy PUTs')
        assert.ok(
          heads.every((h) => h === 'HTTP/1.1 503'),
          heads.join(),
        );
    });

  it('holds back a write that comes within HOLD_BACK_MS, and sends one that comes after it', async () => {
    events.length = 0;
    const conn = await openRaw(port);
    try {
      const answered = (n: number) => (): boolean => statusLines(conn.text()).length >= n;
      conn.sock.write(put('stuck'));
      await until(answered(1), 4 * BOUND_MS);
      conn.sock.write(put('soon'));
      await until(answered(2), BOUND_MS);
      await sleep(HOLD_BACK_MS);
      conn.sock.write(put('later'));
      await until(answered(3), BOUND_MS);
      assert.deepEqual(
        statusLines(conn.text()).map((head) => head.slice(0, 12)),
        ['HTTP/1.1 503', 'HTTP/1.1 503', 'HTTP/1.1 204'],
      );
      assert.ok(errorMessages(conn.text())[1]?.includes('so this one was held back'));
      assert.deepEqual(events, ['arrived stuck', 'arrived later', 'answered later']);
    } finally {
      conn.sock.destroy();
    }
  });
});
