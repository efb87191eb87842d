/**
 * The HTTP/1.1 server in-process against hostile clients: a head dripped a byte at a time, the
 * asterisk-form target, and chunked bodies that carry little data and endless extensions or
 * trailers. Each must be refused, answered in bounded time, and leave the server serving.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_EXTENSION_BYTES, MAX_TRAILER_BYTES } from '../../src/http/chunked-decoder.js';
import { get, startTestServer, type TestServer } from './http-raw-fixture.js';
import { exchange, parseResponses, type WireResult } from './http-raw-wire.js';

let t: TestServer;

before(async () => {
  t = await startTestServer();
});

after(() => {
  t.stop();
});

/**
 * drip sends `head`, then one byte every `everyMs` (at most `maxBytes`), then `tail` if given,
 * until the server answers or closes (5 s after the tail at most); it resolves with what the
 * server sent and how many bytes were dripped.
 */
function drip(
  port: number,
  head: string,
  options: { everyMs: number; maxBytes: number; tail?: string },
): Promise<{ result: WireResult; dripped: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let dripped = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (eof: boolean): void => {
      clearInterval(timer);
      sock.destroy();
      resolve({ result: parseResponses(Buffer.concat(chunks), () => false, eof), dripped });
    };
    sock.on('connect', () => {
      sock.write(head);
      timer = setInterval(() => {
        if (dripped < options.maxBytes) {
          dripped++;
          sock.write('a');
        } else if (options.tail === undefined) finish(false);
        else {
          clearInterval(timer);
          sock.write(options.tail);
          timer = setTimeout(() => {
            finish(false);
          }, 5000);
        }
      }, options.everyMs);
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (
        options.tail !== undefined &&
        parseResponses(Buffer.concat(chunks), () => false, false).responses.length > 0
      )
        finish(false);
    });
    sock.on('close', () => {
      finish(true);
    });
    sock.on('error', (err) => {
      if (chunks.length > 0) finish(true);
      else reject(err);
    });
  });
}

describe('hostile clients of the HTTP/1.1 server', () => {
  it('answers 408 and closes when a head drips in a byte per 100 ms past the head deadline', async () => {
    const slow = await t.startExtra({ headTimeoutMs: 1000 });
    try {
      const { result, dripped } = await drip(slow.port, 'GET /now HTTP/1.1\r\nHost: t\r\nX-Drip: ', {
        everyMs: 100,
        maxBytes: 150,
      });
      assert.equal(result.responses[0]?.status, 408, 'refused with 408');
      assert.match(result.responses[0].body.toString(), /REQUEST_TIMEOUT/);
      assert.equal(result.closed, true, 'and closed');
      assert.ok(dripped < 150, `cut off before the drip ended (${dripped} bytes dripped)`);
      const r = await exchange(slow.port, get('/now?after'), { count: 1 });
      assert.equal(r.responses[0]?.body.toString(), 'now after', 'the server still serves');
    } finally {
      slow.server.close();
      slow.server.destroyConnections();
    }
  });

  it('serves a head that drips in within the head deadline', async () => {
    const slow = await t.startExtra({ headTimeoutMs: 8000 });
    try {
      const { result } = await drip(slow.port, 'GET /now?slow HTTP/1.1\r\nHost: t\r\nX-Drip: ', {
        everyMs: 100,
        maxBytes: 5,
        tail: '\r\n\r\n',
      });
      assert.equal(result.responses[0]?.body.toString(), 'now slow');
    } finally {
      slow.server.close();
      slow.server.destroyConnections();
    }
  });

  it('starts no head deadline for the empty lines a client may send between requests', async () => {
    const slow = await t.startExtra({ headTimeoutMs: 200 });
    try {
      const sock = connect(slow.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', () => undefined);
      sock.write(`${get('/now?a')}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 800));
      sock.write(get('/now?b'));
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          resolve(false);
        }, 5000);
        const check = (): void => {
          if (parseResponses(Buffer.concat(chunks), () => false, false).responses.length < 2) return;
          clearTimeout(timer);
          resolve(true);
        };
        sock.on('data', check);
        check();
      });
      sock.destroy();
      const r = parseResponses(Buffer.concat(chunks), () => false, false);
      assert.ok(ok, 'both answered');
      assert.deepEqual(
        r.responses.map((x) => x.body.toString()),
        ['now a', 'now b'],
      );
    } finally {
      slow.server.close();
      slow.server.destroyConnections();
    }
  });

  it('refuses at once a request line or a header line ended by a bare LF (printf without \\r) instead of waiting for the head deadline', async () => {
    // The head could never end: its blank line is searched as CRLF CRLF. Before, the client waited
    // the whole head deadline (10 s) and got 408 "request head not received whole" (for a bare LF
    // after the header lines only, until session 41).
    for (const wire of [
      'GET /now?lf HTTP/1.1\nHost: t\n\n',
      'GET /now?lf HTTP/1.1\n',
      'GET /now?lf HTTP/1.1\r\nHost: t\n\n',
      'GET /now?lf HTTP/1.1\r\nHost: t\r\nX-A: 1\n',
    ]) {
      const t0 = performance.now();
      const r = await exchange(t.port, wire, { count: 1, timeoutMs: 5000 });
      assert.equal(r.responses[0]?.status, 400, JSON.stringify(wire));
      assert.match(r.responses[0].body.toString(), /bare LF/);
      assert.ok(performance.now() - t0 < 2000, `answered after ${Math.round(performance.now() - t0)} ms`);
    }
  });

  it('answers OPTIONS * with the server methods, and refuses the target * with any other method', async () => {
    const r = await exchange(t.port, 'OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n' + get('/now?next'), {
      count: 2,
    });
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0].headers.get('allow'), 'GET, HEAD, PUT, DELETE, POST, OPTIONS');
    assert.equal(r.responses[1]?.body.toString(), 'now next', 'the connection goes on');
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const bad = await exchange(t.port, `${method} * HTTP/1.1\r\nHost: t\r\n\r\n`, { count: 1 });
      assert.equal(bad.responses[0]?.status, 400, method);
      assert.match(bad.responses[0].body.toString(), /BAD_REQUEST/);
    }
  });

  it(`refuses a chunked body with over ${MAX_TRAILER_BYTES} bytes of trailers, storing nothing`, async () => {
    const trailer = `X-T: ${'a'.repeat(4000)}\r\n`.repeat(Math.ceil(MAX_TRAILER_BYTES / 4000) + 1);
    const wire = `PUT /store/trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n${trailer}\r\n`;
    const r = await exchange(t.port, wire, { count: 1 });
    assert.equal(r.responses[0]?.status, 400);
    assert.match(r.responses[0].body.toString(), /trailer fields over/);
    assert.equal(t.store.has('trailers'), false);
  });

  it(`refuses a chunked body with over ${MAX_EXTENSION_BYTES} bytes of chunk extensions, storing nothing`, async () => {
    const chunk = `1;e=${'x'.repeat(1000)}\r\na\r\n`;
    const body = chunk.repeat(Math.ceil(MAX_EXTENSION_BYTES / 1000) + 1);
    const wire = `PUT /store/extensions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`;
    const r = await exchange(t.port, wire, { count: 1 });
    assert.equal(r.responses[0]?.status, 400);
    assert.match(r.responses[0].body.toString(), /chunk extensions over/);
    assert.equal(t.store.has('extensions'), false);
  });

  it('answers 408 and closes when a body stops arriving for the idle limit, applying nothing', async () => {
    const idle = await t.startExtra({ idleTimeoutMs: 300 });
    try {
      const aborted = t.counts.aborted;
      const r = await exchange(
        idle.port,
        [get('/now?first'), 'PUT /store/stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc'],
        { count: 2, timeoutMs: 10000, lingerMs: 2000 },
      );
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [200, 408],
      );
      assert.match(r.responses[1]?.body.toString() ?? '', /REQUEST_TIMEOUT.*body/);
      assert.equal(r.closed, true, 'and closed');
      assert.equal(t.store.has('stalled'), false);
      assert.equal(t.counts.aborted, aborted + 1, 'the route saw the request aborted');
    } finally {
      idle.server.close();
      idle.server.destroyConnections();
    }
  });

  it('closes without a second answer when a body its route answered early stops arriving', async () => {
    const idle = await t.startExtra({ idleTimeoutMs: 300 });
    try {
      // The route answers at once (404) without reading the body, which then stops arriving; the
      // answer waits behind a slow one, so the connection is still busy when the body times out.
      const r = await exchange(
        idle.port,
        [get('/later?i=slow&ms=2500'), 'PUT /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc'],
        { count: 3, timeoutMs: 8000 },
      );
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [200, 404],
        'one answer per request: no 408 after the 404',
      );
      assert.equal(r.closed, true, 'and closed');
    } finally {
      idle.server.close();
      idle.server.destroyConnections();
    }
  });
});
