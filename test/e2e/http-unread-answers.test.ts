/**
 * A client that pipelines GETs of large values and reads nothing must not make the HTTP front door
 * build every answer (src/http/http1-connection.ts, "Bounds"): past the bound on unsent bytes the
 * requests already read wait unexecuted. Against a spawned `distkv serve` over real sockets, the
 * number of GETs executed is read from a second connection's /metrics while the first client
 * reads nothing; then that client reads and gets every answer, intact and in order.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseExposition } from '../helpers/prom-parse.js';
import { readPaused } from '../helpers/raw-http.js';
import { taggedText } from '../helpers/interleaved-writes.js';
import { startOneNode } from '../helpers/server-process.js';
import { parseResponses } from './http-raw-wire.js';

const VALUE_BYTES = 1024 * 1024;
const KEYS = 8;
const GETS = 128;

let node: Awaited<ReturnType<typeof startOneNode>>;

before(async () => {
  node = await startOneNode();
});

after(async () => {
  await node.stop();
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** kvGets200 is how many `GET /kv/{key}` the node has answered 200, from its /metrics. */
async function kvGets200(): Promise<number> {
  const text = await (await fetch(`http://${node.address}/metrics`)).text();
  let n = 0;
  for (const s of parseExposition(text).get('distkv_http_requests_total')?.samples ?? [])
    if (s.labels.route === 'kv_get' && s.labels.status === '200') n += s.value;
  return n;
}

describe('HTTP answers a client does not read', () => {
  it(`executes far fewer than ${GETS} pipelined GETs of 1 MiB values while the client reads nothing, then answers all in order`, async (t) => {
    const values: string[] = [];
    for (let k = 0; k < KEYS; k++) {
      const value = taggedText(`v${k}`, VALUE_BYTES);
      values.push(value);
      const r = await fetch(`http://${node.address}/kv/unread-${k}`, { method: 'PUT', body: value });
      assert.equal(r.status, 204);
    }
    const before = await kvGets200();
    const sock = await open(node.port);
    // Nothing is read until the test says so: no 'data' listener, and the stream paused.
    sock.pause();
    let reqs = '';
    for (let i = 0; i < GETS; i++) reqs += `GET /kv/unread-${i % KEYS} HTTP/1.1\r\nHost: t\r\n\r\n`;
    sock.write(reqs);
    await sleep(1000);
    const executed = (await kvGets200()) - before;
    t.diagnostic(`${executed} of ${GETS} GETs executed while the client read nothing`);
    // The bound (4 MiB unsent, a window of answers) plus what the kernel's socket buffers take:
    // a dozen or so 1 MiB answers, not all of them.
    assert.ok(
      executed < 32,
      `${executed} of ${GETS} GETs of 1 MiB values were executed for a client reading nothing`,
    );

    // Until every answer is whole: the 128 bodies' bytes alone arrive before the last answer's end.
    const answers = (b: Buffer): number => parseResponses(b, () => false, false).responses.length;
    const read = await readPaused(sock, GETS * VALUE_BYTES, 60000, (b) => answers(b) >= GETS);
    const got = parseResponses(read, () => false, false).responses;
    assert.equal(got.length, GETS);
    for (let i = 0; i < GETS; i++) {
      assert.equal(got[i]!.status, 200, `answer ${i}`);
      assert.ok(
        got[i]!.body.equals(Buffer.from(values[i % KEYS]!)),
        `answer ${i} is the value of key ${i % KEYS}`,
      );
    }
    sock.destroy();
  });
});
