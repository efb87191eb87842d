/**
 * An owner that does not answer a forwarded scan or batch part is given `server.forward_timeout_ms`
 * (Forwarder's `forwardMs`), not a fixed 2 s, and the error says how long was waited and which
 * setting bounds it (undici's own said only "The operation was aborted due to timeout"). The owner
 * here accepts connections and never answers, as a node stopped with SIGSTOP does.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Forwarder } from '../../src/http/forwarder.js';

const FORWARD_MS = 300;
const forwarder = new Forwarder('http', 'cfg', undefined, { forwardMs: FORWARD_MS });
const held: Socket[] = [];
const silent = createServer((socket) => {
  held.push(socket);
  socket.on('error', () => undefined);
});
let owner = '';

before(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  owner = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

after(async () => {
  await forwarder.close();
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => {
    silent.close(() => {
      resolve();
    });
  });
});

/** failureOf runs `call`, which must fail, and gives its message and how long it took. */
async function failureOf(call: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const start = performance.now();
  const err = await call().then(
    () => assert.fail('an owner that never answers is an error'),
    (e: unknown) => e,
  );
  return { message: (err as Error).message, ms: performance.now() - start };
}

describe('a forwarded part whose owner never answers', () => {
  it('fails a scan part after forward_timeout_ms, naming the bound and the setting', async () => {
    const { message, ms } = await failureOf(() =>
      forwarder.scan(owner, [1], Buffer.from('k'), undefined, { limit: 10, maxBytes: 1000 }),
    );
    assert.equal(message, `no answer within ${FORWARD_MS} ms (server.forward_timeout_ms)`);
    assert.ok(ms >= FORWARD_MS - 20 && ms < 1500, `gave up after ${ms.toFixed(0)} ms`);
  });

  it('fails a batch part after forward_timeout_ms, naming the bound and the setting', async () => {
    const { message, ms } = await failureOf(() => forwarder.batch(owner, [{ op: 'delete', key: 'k' }]));
    assert.equal(message, `no answer within ${FORWARD_MS} ms (server.forward_timeout_ms)`);
    assert.ok(ms >= FORWARD_MS - 20 && ms < 1500, `gave up after ${ms.toFixed(0)} ms`);
  });
});
