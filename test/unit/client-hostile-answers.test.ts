/**
 * The client against a node that answers garbage: it bounds an answer's body (an endless or absurdly
 * large one fails the exchange once it passes the bound, instead of the client collecting it until
 * it runs out of memory: the body timeout never fires while bytes keep coming), and an answer that
 * is not the JSON it expects is a DistkvError naming what was asked, not a bare SyntaxError or
 * TypeError.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { DistkvClient } from '../../src/client/client.js';
import { exchange } from '../../src/client/exchange.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
let twin: HandlerTwin;
let html: HandlerTwin;
/** sent counts the body bytes the endless twin wrote. */
let sent = 0;

before(async () => {
  twin = await startHandlerTwin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = (): void => {
      while (!res.destroyed && res.write(CHUNK)) sent += CHUNK.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  html = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster' && good)
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(html.address));
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a distkv node</html>');
  });
});

/** good makes the html twin answer /cluster properly (and everything else with HTML). */
let good = false;

after(async () => {
  await twin.stop();
  await html.stop();
});

describe('client answer bound', () => {
  it('fails an endless body once it passes the bound', async () => {
    const pool = new Pool(`http://${twin.address}`, { headersTimeout: 5000, bodyTimeout: 5000 });
    try {
      const bound = 4 * 1024 * 1024;
      const outcome = await Promise.race([
        exchange(pool, 'GET', '/kv/endless', undefined, {}, undefined, undefined, bound).then(
          () => 'resolved',
          (err: unknown) => err,
        ),
        new Promise((r) => {
          setTimeout(() => {
            r('still reading');
          }, 5000).unref();
        }),
      ]);
      assert.ok(outcome instanceof DistkvError, String(outcome));
      assert.match(outcome.message, /passed 4194304 bytes/);
      assert.ok(sent < 64 * bound, `the client read ${sent} bytes`);
    } finally {
      await pool.destroy();
    }
  });

  it('reports a /cluster, scan or /stats answer that is not JSON as a DistkvError naming it', async () => {
    const client = new DistkvClient({ urls: [html.address] });
    try {
      good = false;
      await assert.rejects(client.topology(), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.match(
          err.message,
          /127\.0\.0\.1:\d+ does not answer as a distkv node \(GET \/cluster: the answer is not a JSON object \("<html>not a distkv/,
        );
        return true;
      });
      await assert.rejects(
        client.nodeStats(),
        (err: unknown) => err instanceof DistkvError && err.code === 'INTERNAL',
      );
      good = true;
      await assert.rejects(
        client.scanPage(''),
        (err: unknown) =>
          err instanceof DistkvError &&
          /scan page from 127\.0\.0\.1:\d+: the answer is not a JSON object/.test(err.message),
      );
    } finally {
      await client.close();
    }
  });
});
