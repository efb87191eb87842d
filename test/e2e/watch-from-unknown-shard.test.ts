/**
 * GET /watch refuses a `from` (or `Last-Event-ID`) that names a shard the cluster does not have:
 * 400 INVALID_ARGUMENT naming it, as `shards` naming one is. It used to open the stream and start
 * the shard meant (a typo, another cluster's cursor) from the rest of `from`, often now, skipping
 * its changes without a word.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type OwnServer, startOneNode } from '../helpers/server-process.js';

let own: OwnServer & { address: string };

before(async () => {
  own = await startOneNode('[server]\nresp_port_offset = 0', ['--workers', '1']);
});

after(async () => {
  await own.stop();
});

describe('watch from a shard the cluster does not have', () => {
  it('is a 400 INVALID_ARGUMENT naming the shard, from the query or Last-Event-ID', async () => {
    for (const [query, headers] of [
      ['from=9%3A0.5', {}],
      ['from=0%3A0.1%2C3%3A0.5', {}],
      ['', { 'last-event-id': '4:0.2' }],
    ] as const) {
      const r = await fetch(`http://${own.address}/watch?prefix=p&${query}`, {
        headers,
        signal: AbortSignal.timeout(10000),
      });
      const body = await r.text();
      assert.equal(r.status, 400, `${query} ${JSON.stringify(headers)}: ${body.slice(0, 200)}`);
      const doc = JSON.parse(body) as { error: { code: string; message: string } };
      assert.equal(doc.error.code, 'INVALID_ARGUMENT');
      assert.match(
        doc.error.message,
        /from names shard \d, which this cluster does not have \(shards 0\.\.0\)/,
      );
    }
  });

  it('opens the stream for a from naming its shards', async () => {
    const stop = new AbortController();
    const r = await fetch(`http://${own.address}/watch?prefix=p&from=0%3A0.0`, { signal: stop.signal });
    assert.equal(r.status, 200);
    stop.abort();
    await r.body?.cancel().catch(() => undefined);
  });
});
