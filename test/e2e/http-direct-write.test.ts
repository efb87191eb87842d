/**
 * The HTTP/1.1 front door writes responses straight to the socket's handle
 * (src/server/direct-write.ts). Over a raw connection: pipelined answers arrive whole and in
 * order, large answers reach a slow reader intact, and a client that stops reading makes the
 * server stop reading its requests (the 4 MiB bound on unsent bytes still sees what the
 * handle holds), instead of buffering every answer.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestServer, get, put, startTestServer } from './http-raw-fixture.js';
import { parseResponses } from './http-raw-wire.js';
import { taggedText } from '../helpers/interleaved-writes.js';
import { seededRandom, testSeed } from '../helpers/random.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
});

after(() => {
  srv.stop();
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** collect gathers what arrives on `sock`, reading in bursts with pauses when `slowly`. */
function collect(sock: Socket, slowly: boolean): { parts: Buffer[]; bytes: () => number } {
  const parts: Buffer[] = [];
  let bytes = 0;
  let burst = 0;
  sock.on('data', (d: Buffer) => {
    parts.push(d);
    bytes += d.length;
    burst += d.length;
    if (slowly && burst > 1024 * 1024) {
      burst = 0;
      sock.pause();
      setTimeout(() => sock.resume(), 15);
    }
  });
  return { parts, bytes: () => bytes };
}

/**
 * responses waits until `n` responses arrived (or `ms`) and returns status and body of each. It
 * parses only what arrived since its last look, after the responses already whole: joining and
 * parsing every byte so far at each look cost the process (the server's too) a copy of up to
 * 82 MiB every 20 ms, and under load the 41 answers of 2 MiB did not all arrive within 60 s.
 */
async function responses(parts: Buffer[], n: number, ms = 20000): Promise<string[]> {
  const deadline = Date.now() + ms;
  const got: string[] = [];
  let rest: Buffer = Buffer.alloc(0);
  let seen = 0;
  for (;;) {
    if (seen < parts.length) {
      const r = parseResponses(Buffer.concat([rest, ...parts.slice(seen)]), () => false, false);
      seen = parts.length;
      for (const x of r.responses) got.push(`${x.status} ${x.body.toString()}`);
      rest = r.rest;
    }
    if (got.length >= n || Date.now() > deadline) return got;
    await sleep(20);
  }
}

describe('HTTP responses written straight to the socket handle', () => {
  it('answers pipelined PUTs and GETs of mixed sizes whole and in order (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const sock = await open(srv.port);
    const got = collect(sock, true);
    let reqs = '';
    const want: string[] = [];
    for (let i = 0; i < 120; i++) {
      const key = `dw${seed}-${i}`;
      const value = taggedText(`${i}`, Math.floor(rnd() * (rnd() < 0.1 ? 300_000 : 3000)));
      // the PUT answers later (out of order with the GETs before it); the GET waits for it
      reqs +=
        put(`/store/${key}?ms=${Math.floor(rnd() * 5)}`, value) + get(`/store/${key}`) + get(`/now?${i}`);
      want.push('204 ', `200 ${value}`, `200 now ${i}`);
    }
    sock.write(reqs);
    assert.deepEqual(await responses(got.parts, want.length), want, `DISTKV_SEED=${seed}`);
    sock.destroy();
  });

  it('sends 8 MiB answers intact to a client that reads slowly', async () => {
    const value = taggedText('big', 8 * 1024 * 1024);
    const sock = await open(srv.port);
    const got = collect(sock, true);
    sock.write(put('/store/dw-big', value) + get('/store/dw-big') + get('/now?x') + get('/store/dw-big'));
    assert.deepEqual(await responses(got.parts, 4, 60000), [
      '204 ',
      `200 ${value}`,
      '200 now x',
      `200 ${value}`,
    ]);
    sock.destroy();
  });

  it('stops reading requests while a client that does not read leaves answers unsent', async () => {
    const value = taggedText('mid', 2 * 1024 * 1024);
    const a = await open(srv.port);
    a.write(put('/store/dw-mid', value));
    const first = collect(a, false);
    assert.deepEqual(await responses(first.parts, 1), ['204 ']);
    a.pause();
    const started = srv.counts.started;
    // one request per read: the bound is checked before each request a read brings
    for (let i = 0; i < 40; i++) {
      a.write(get('/store/dw-mid'));
      await sleep(10);
    }
    await sleep(200);
    // The kernel buffers take a few answers; past 4 MiB unsent the server stops reading.
    const served = srv.counts.started - started;
    assert.ok(
      served < 12,
      `${served} of 40 requests of 2 MiB answers were read by a server whose client reads nothing`,
    );
    a.resume();
    const all = await responses(first.parts, 41, 60000);
    assert.equal(all.length, 41);
    for (const r of all.slice(1)) assert.equal(r, `200 ${value}`);
    a.destroy();
  });

  it('stops running requests read in one go once their answers, given at once, pass the bound', async () => {
    const value = taggedText('one-go', 2 * 1024 * 1024);
    const a = await open(srv.port);
    a.write(put('/store/dw-one-go', value));
    const first = collect(a, false);
    assert.deepEqual(await responses(first.parts, 1), ['204 ']);
    a.pause();
    const started = srv.counts.started;
    // The route answers in the same turn: no request stays unanswered, only bytes pile up.
    a.write(Array.from({ length: 40 }, () => get('/store/dw-one-go')).join(''));
    await sleep(300);
    const served = srv.counts.started - started;
    assert.ok(served < 12, `${served} of 40 requests of 2 MiB answers read in one go were run`);
    a.resume();
    const all = await responses(first.parts, 41, 60000);
    assert.equal(all.length, 41);
    for (const r of all.slice(1)) assert.equal(r, `200 ${value}`);
    a.destroy();
  });
});
