/**
 * A watch on a node whose engine keeps no log (`--engine memory` or `lmdb`): a watch reads the
 * stores' logs, which only the lsm engine keeps. The stream used to answer 200, say hello and then
 * nothing for ever (each worker refused the read, and the feed took that for a store being rebuilt
 * and asked again). It is now refused at once with 400 naming the engine and what to do, over SSE,
 * the binary stream and the WebSocket upgrade alike, and the client library's watch throws it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type OwnServer, startOneNode } from '../helpers/server-process.js';

for (const engine of ['memory', 'lmdb']) {
  describe(`a watch on a node with the ${engine} engine`, () => {
    let address = '';
    let own: OwnServer | undefined;

    before(async () => {
      const started = await startOneNode('[server]\nresp_port_offset = 0', ['--inline', '--engine', engine]);
      own = started;
      address = started.address;
      assert.equal((await fetch(`http://${address}/kv/a1`, { method: 'PUT', body: 'v' })).status, 204);
    });

    after(async () => {
      await own?.stop();
    });

    for (const accept of ['text/event-stream', 'application/vnd.distkv.watch; version=2']) {
      it(`is refused at once with 400 naming the engine (${accept})`, async () => {
        const res = await fetch(`http://${address}/watch?prefix=a&from=0.0`, {
          headers: { accept },
          signal: AbortSignal.timeout(3000),
        });
        assert.equal(res.status, 400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'BAD_REQUEST');
        assert.match(body.error.message, new RegExp(`the ${engine} engine \\(storage.engine\\) keeps none`));
        assert.match(body.error.message, /lsm engine/);
      });
    }

    it('makes the client watch throw that error, not wait', async () => {
      const client = new DistkvClient({ urls: [`http://${address}`] });
      try {
        const it = client.watch('a', { from: '0.0' });
        const err = await Promise.race([
          it.next().then(
            () => undefined,
            (e: unknown) => e,
          ),
          new Promise((r) => {
            setTimeout(() => {
              r('no answer in 5 s');
            }, 5000);
          }),
        ]);
        assert.ok(err instanceof DistkvError, `expected a DistkvError, got ${String(err)}`);
        assert.equal(err.code, 'BAD_REQUEST');
        await it.return();
      } finally {
        await client.close();
      }
    });
  });
}
