/**
 * The HTTP/1.1 server (src/http/http1-*.ts) in-process on loopback over raw sockets: pipelining
 * order and bounds, read-after-write on one connection, half-close, HTTP/1.0, every Content-Length
 * case, chunked bodies and 100-continue. No test waits on a fixed sleep for its result; all are bounded.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_PENDING } from '../../src/http/http1-outflow.js';
import { get, put, startTestServer, type TestServer } from './http-raw-fixture.js';
import { exchange } from './http-raw-wire.js';

let t: TestServer;
let port = 0;

before(async () => {
  t = await startTestServer();
  port = t.port;
});

after(() => {
  t.stop();
});

describe('pipelining', () => {
  it('answers 1..128 pipelined requests in request order although they complete in reverse order', async () => {
    for (const depth of [1, 2, 3, 16, 64, 128]) {
      let data = '';
      for (let i = 0; i < depth; i++) data += get(`/later?i=${i}&ms=${(depth - i) % 7}`);
      const r = await exchange(port, data, { count: depth });
      assert.equal(r.responses.length, depth, `depth ${depth}`);
      r.responses.forEach((res, i) => {
        assert.equal(res.body.toString(), `later ${i}`);
      });
    }
  });

  it('answers pipelined PUTs, each applied once and answered, and a GET after them sees them', async () => {
    let data = '';
    for (let i = 0; i < 50; i++) data += put(`/store/p${i}?ms=${(i * 7) % 5}`, `v${i}`);
    data += get('/store/p49');
    const r = await exchange(port, data, { count: 51 });
    assert.deepEqual(
      r.responses.slice(0, 50).map((x) => x.status),
      new Array<number>(50).fill(204),
    );
    assert.equal(r.responses[50]!.body.toString(), 'v49', 'the read waited for the writes before it');
    for (let i = 0; i < 50; i++) assert.equal(t.store.get(`p${i}`), `v${i}`);
  });

  it(`stops reading at ${MAX_PENDING} unanswered requests and resumes, answering all ${3 * MAX_PENDING}`, async () => {
    t.counts.maxWaiting = 0;
    let data = '';
    for (let i = 0; i < 3 * MAX_PENDING; i++) data += get(`/later?i=${i}&ms=2`);
    const r = await exchange(port, data, { count: 3 * MAX_PENDING, timeoutMs: 20000 });
    assert.equal(r.responses.length, 3 * MAX_PENDING);
    assert.equal(r.responses.at(-1)!.body.toString(), `later ${3 * MAX_PENDING - 1}`);
    assert.ok(
      t.counts.maxWaiting <= MAX_PENDING,
      `at most ${MAX_PENDING} waited at once (saw ${t.counts.maxWaiting})`,
    );
  });

  it('answers requests split across writes at every byte', async () => {
    const data = Buffer.from(put('/store/split', 'abc') + get('/now?x=1'));
    const pieces = [...data].map((b) => Buffer.from([b]));
    const r = await exchange(port, pieces, { count: 2 });
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 200],
    );
    assert.equal(t.store.get('split'), 'abc');
  });

  it('answers everything it read when the client half-closes, then closes', async () => {
    const r = await exchange(port, get('/later?i=a&ms=5') + get('/now'), {
      count: 2,
      halfClose: true,
      lingerMs: 2000,
    });
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200],
    );
    assert.equal(r.closed, true);
  });

  it(`answers all ${3 * MAX_PENDING} pipelined requests of a client that half-closes at once`, async () => {
    let data = '';
    for (let i = 0; i < 3 * MAX_PENDING; i++) data += get(`/later?i=${i}&ms=1`);
    const r = await exchange(port, data, { count: 3 * MAX_PENDING, halfClose: true, lingerMs: 2000 });
    assert.equal(r.responses.length, 3 * MAX_PENDING);
    assert.equal(r.closed, true);
  });

  it('answers a read held behind a write, and everything after it, when the client half-closes', async () => {
    const data = put('/store/hc?ms=20', 'w') + get('/store/hc') + get('/now?after');
    const r = await exchange(port, data, { count: 3, halfClose: true, lingerMs: 2000 });
    assert.deepEqual(
      r.responses.map((x) => x.body.toString()),
      ['', 'w', 'now after'],
    );
    assert.equal(r.closed, true);
  });
});

describe('HTTP/1.0', () => {
  it('answers and closes without keep-alive', async () => {
    const r = await exchange(port, 'GET /now HTTP/1.0\r\n\r\n' + get('/now'), { count: 1, lingerMs: 2000 });
    assert.equal(r.responses.length, 1, 'nothing is read after a request that closes');
    assert.equal(r.responses[0]!.headers.get('connection'), 'close');
    assert.equal(r.closed, true);
  });

  it('keeps the connection with Connection: keep-alive', async () => {
    const req = 'GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const r = await exchange(port, req + req, { count: 2, lingerMs: 200 });
    assert.equal(r.responses.length, 2);
    assert.equal(r.responses[0]!.headers.get('connection'), 'keep-alive');
    assert.equal(r.closed, false);
  });
});

describe('Content-Length and chunked framing', () => {
  const refusedAndClosed = async (head: string, body = ''): Promise<void> => {
    const bodiesBefore = t.counts.bodies;
    const r = await exchange(port, head + body + get('/now'), { count: 1, lingerMs: 2000 });
    assert.equal(r.responses.length, 1, JSON.stringify(head));
    assert.equal(r.responses[0]!.status, 400, JSON.stringify(head));
    assert.equal(r.responses[0]!.headers.get('connection'), 'close');
    assert.equal(r.closed, true);
    assert.equal(t.counts.bodies, bodiesBefore, 'no body reached a route');
  };

  it('refuses two different Content-Lengths, an invalid one, a negative one, and one with Transfer-Encoding', async () => {
    await refusedAndClosed(
      'PUT /store/cl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n',
      'abcde',
    );
    await refusedAndClosed('PUT /store/cl HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n', 'abc');
    await refusedAndClosed('PUT /store/cl HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\n', 'abc');
    await refusedAndClosed(
      'PUT /store/cl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      '3\r\nabc\r\n0\r\n\r\n',
    );
    assert.equal(t.store.has('cl'), false);
  });

  it('accepts duplicated equal Content-Lengths', async () => {
    const r = await exchange(
      port,
      'PUT /store/dup HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
      {
        count: 1,
      },
    );
    assert.equal(r.responses[0]!.status, 204);
    assert.equal(t.store.get('dup'), 'abc');
  });

  it('reads exactly Content-Length bytes: extra bytes are the next request (here garbage: 400, closed)', async () => {
    const r = await exchange(
      port,
      'PUT /store/short HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcdef\r\n\r\n',
      {
        count: 2,
        lingerMs: 2000,
      },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 400],
    );
    assert.equal(t.store.get('short'), 'abc');
    assert.equal(r.closed, true);
  });

  it('applies nothing and answers 400 when the body is shorter than Content-Length and the client leaves', async () => {
    const abortedBefore = t.counts.aborted;
    const r = await exchange(port, 'PUT /store/long HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc', {
      count: 1,
      halfClose: true,
      timeoutMs: 3000,
      lingerMs: 2000,
    });
    // The half-closed client is told how much of its body came (session 56: before, no answer).
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0]?.status, 400);
    assert.match(r.responses[0].body.toString(), /after 3 of the 10 bytes/);
    assert.equal(r.closed, true, 'the server closed: the request can never complete');
    assert.equal(t.store.has('long'), false);
    assert.equal(t.counts.aborted, abortedBefore + 1, 'the route was told');
  });

  it('decodes a chunked body with extensions and trailers, then reads the next request', async () => {
    const body = '3;a=b\r\nabc\r\n4\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n';
    const r = await exchange(
      port,
      `PUT /store/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${body}${get('/store/chunked')}`,
      {
        count: 2,
      },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [204, 200],
    );
    assert.equal(r.responses[1]!.body.toString(), 'abcdefg');
  });

  it('refuses a malformed chunked body with 400 and closes, applying nothing', async () => {
    const r = await exchange(
      port,
      'PUT /store/badchunk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n',
      {
        count: 1,
        lingerMs: 2000,
      },
    );
    assert.equal(r.responses[0]!.status, 400);
    assert.equal(r.closed, true);
    assert.equal(t.store.has('badchunk'), false);
  });

  it('answers a request once when its route answered before a chunked body that turns out malformed, then closes', async () => {
    // The route answers at once (404) without reading the body; the body's framing breaks after.
    const r = await exchange(
      port,
      'PUT /nowhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nxyz\r\n' +
        get('/now?after'),
      { count: 2, timeoutMs: 3000 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [404],
      'one answer for the one request: no second one for its body, nothing read after it',
    );
    assert.equal(r.closed, true);
  });

  it('sends 100 Continue, then reads the body the client sends only after it', async () => {
    const sock = connect(port, '127.0.0.1');
    let seen = '';
    const waitFor = (re: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          reject(new Error(`timed out waiting for ${String(re)}; got ${JSON.stringify(seen)}`));
        }, 5000);
        const check = (): void => {
          if (!re.test(seen)) return;
          clearTimeout(t);
          sock.off('data', onData);
          resolve();
        };
        const onData = (d: Buffer): void => {
          seen += d.toString();
          check();
        };
        sock.on('data', onData);
        check();
      });
    try {
      sock.write('PUT /store/cont HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n');
      await waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
      sock.write('ok');
      await waitFor(/HTTP\/1\.1 204/);
      assert.equal(t.store.get('cont'), 'ok');
    } finally {
      sock.destroy();
    }
  });

  it('closes after refusing a 100-continue request before its body: the next request is never read as that body', async () => {
    // The route answers at once without reading the body, so no 100 Continue is sent: a client
    // then need not send the body (docs/api.md), and the bytes it sends next are its next request.
    const next = get('/now?after');
    const sock = connect(port, '127.0.0.1');
    let seen = '';
    let ended = false;
    sock.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    const closed = new Promise<void>((resolve) =>
      sock.on('close', () => {
        resolve();
      }),
    );
    sock.on('end', () => (ended = true));
    sock.on('error', () => undefined);
    const until = async (ok: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 30));
      assert.ok(ok(), `${what}; got ${JSON.stringify(seen)}`);
    };
    try {
      sock.write(
        `PUT /nowhere HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: ${next.length}\r\n\r\n`,
      );
      await until(() => seen.includes('no route'), 'the refusal arrives');
      assert.doesNotMatch(seen, /100 Continue/);
      assert.match(
        seen,
        /^HTTP\/1\.1 404 [^]*\r\nConnection: close\r\n/,
        'the refusal says the connection closes',
      );
      sock.write(next);
      await until(
        () => ended || seen.includes('now after'),
        'the server closes (or answers the next request)',
      );
      assert.equal(seen.includes('now after'), false);
      await closed;
    } finally {
      sock.destroy();
    }
  });
});
