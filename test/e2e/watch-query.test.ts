/**
 * `GET /watch` reads its query strictly, as the rest of the native API does (docs/api.md, "Query
 * parameters"): `?form=0.0` (for `from`) used to be ignored, so the watch started from now and the
 * replay the caller asked for silently never came; `from` given twice had no one meaning.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startOneNode } from '../helpers/server-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** rawExchange writes `request` on a connection of its own and answers what came back once it holds `until` (or after 10 s). */
async function rawExchange(port: number, request: string, until: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  socket.write(request);
  const deadline = Date.now() + 10000;
  while (!text.includes(until) && Date.now() < deadline) await sleep(20);
  socket.destroy();
  return text;
}

describe('the query of a watch', () => {
  let node: Awaited<ReturnType<typeof startOneNode>> | undefined;

  before(async () => {
    node = await startOneNode('[server]\nresp_port_offset = 0', ['--inline']);
  });

  after(async () => {
    await node?.stop();
  });

  it('refuses an unknown or repeated parameter with a 400 naming it', async () => {
    const cases: [string, RegExp][] = [
      [
        'prefix=a/&form=0.0',
        /unknown query parameter "form"; this endpoint takes prefix, prefix_base64, from, values, shards, max_buffer_bytes/,
      ],
      ['prefix=a/&from=0.0&from=now', /from is given twice/],
      ['prefix=a/&Values=0', /unknown query parameter "Values"/],
      // `from=$CURSOR` with CURSOR unset: it used to start from now, skipping the changes since
      // the cursor meant; `shards=` watched every shard, where the scan refuses it.
      ['prefix=a/&from=', /from is empty: give a cursor/],
      ['prefix=a/&shards=', /shards must list shard numbers 0\.\.\d+, got ""/],
    ];
    for (const [query, message] of cases) {
      const r = await fetch(`http://${node!.address}/watch?${query}`);
      assert.equal(r.status, 400, query);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INVALID_ARGUMENT', query);
      assert.match(body.error.message, message, query);
    }
  });

  it('refuses a malformed Last-Event-ID naming the header, not a from the caller never gave', async () => {
    const r = await fetch(`http://${node!.address}/watch?prefix=a/`, {
      headers: { 'last-event-id': 'garbage' },
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'INVALID_ARGUMENT');
    assert.match(
      body.error.message,
      /^Last-Event-ID \(read as from\): from item "garbage" is not SHARD:E\.S/,
    );
  });

  it('refuses Last-Event-ID sent twice, as from twice is refused', async () => {
    // The first was taken (here 0.0: a replay of every log), another start than the second names.
    // A raw request: fetch joins repeated headers into one list.
    const text = await rawExchange(
      node!.port,
      'GET /watch?prefix=a/ HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 0.0\r\nLast-Event-ID: now\r\n\r\n',
      'send one',
    );
    assert.match(text, /^HTTP\/1\.1 400 /, text);
    assert.match(text, /send one Last-Event-ID header, got 2/, text);
  });

  it('answers a HEAD with the head of a stream and ends it, so a request behind it is answered', async () => {
    // It used to start the stream: nothing is written to a HEAD, so nothing ended it, and the
    // connection stayed held by a watcher (curl -I, a probe, a pipelined request never answered).
    const text = await rawExchange(
      node!.port,
      'HEAD /watch?prefix=a/ HTTP/1.1\r\nHost: t\r\n\r\nGET /kv/head-probe HTTP/1.1\r\nHost: t\r\n\r\n',
      'NOT_FOUND',
    );
    const [head, next] = text.split('\r\n\r\n');
    assert.match(head ?? '', /^HTTP\/1\.1 200 /, text);
    assert.match(head ?? '', /\r\nContent-Type: text\/event-stream\r\n/i, text);
    assert.match(next ?? '', /^HTTP\/1\.1 404 /, `the GET behind the HEAD: ${JSON.stringify(text)}`);
  });

  it('still streams with every parameter it takes', async () => {
    const ac = new AbortController();
    const r = await fetch(
      `http://${node!.address}/watch?prefix=a/&from=0.0&values=0&shards=0&max_buffer_bytes=65536`,
      { signal: ac.signal },
    );
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    ac.abort();
    await r.body?.cancel().catch(() => undefined);
  });
});
