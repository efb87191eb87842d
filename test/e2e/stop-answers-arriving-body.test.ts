/**
 * A graceful stop answers a request whose body is still arriving (docs/operations.md, "A graceful
 * stop"; src/http/http1-connection.ts, serverStopping and endIdle).
 *
 * Before, a SIGTERM while a PUT's body was arriving logged `in_flight: 0` and closed the connection
 * mid-body with nothing written: the client library reports such a write as OutcomeUnknownError
 * ("may have been applied") although nothing of it ran. Now the request counts as in flight: its
 * body is read on and the PUT runs (204) when the body is whole within the drain limit (3 s), and
 * it gets 503 DRAINING (not executed) when it is not.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/ports.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

const BODY_BYTES = 1024 * 1024;
/** FIRST_PART is what is sent before the SIGTERM; the rest follows in steps of STEP every STEP_MS. */
const FIRST_PART = 300_000;
const STEP = 50_000;
const STEP_MS = 20;
/** STOP_BOUND_MS is how long the stop may take (a 3 s drain limit, then closing the stores). */
const STOP_BOUND_MS = 6000;

/** RawPut is a PUT sent by hand on one socket, with what came back. */
interface RawPut {
  sock: Socket;
  reply: () => string;
  closed: () => boolean;
}

/** startPut connects to `address` and sends the head of a PUT of BODY_BYTES and FIRST_PART of its body. */
async function startPut(address: string, key: string): Promise<RawPut> {
  const [host, port] = address.split(':') as [string, string];
  const sock = connect({ host, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let reply = '';
  let closed = false;
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => (reply += d));
  sock.on('close', () => (closed = true));
  sock.on('error', () => (closed = true));
  sock.write(`PUT /kv/${key} HTTP/1.1\r\nHost: ${address}\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`);
  sock.write(Buffer.alloc(FIRST_PART, 0x41));
  await sleep(200);
  return { sock, reply: () => reply, closed: () => closed };
}

/** answer waits (bounded) for a whole response head on `put`, closes it and returns its status. */
async function answer(put: RawPut, waitMs: number): Promise<string> {
  for (let i = 0; i < waitMs / 50 && !put.closed() && !/\r\n\r\n/.test(put.reply()); i++) await sleep(50);
  put.sock.destroy();
  return /^HTTP\/1\.1 (\d{3})/.exec(put.reply())?.[1] ?? 'no answer';
}

async function startNode(): Promise<{ own: OwnServer; address: string }> {
  const address = `127.0.0.1:${await freePort()}`;
  const own = await startOwnServer([{ address }], '', ['--workers', '1'], {});
  after(() => own.stop());
  return { own, address };
}

/** exitsInTime waits (bounded) for the stopped node's exit and returns its code. */
async function exitsInTime(own: OwnServer): Promise<number | null | 'hung'> {
  return Promise.race([own.server.waitExit(), sleep(STOP_BOUND_MS).then(() => 'hung' as const)]);
}

describe('distkv serve stopped while a PUT body is arriving', { timeout: 60000 }, () => {
  it('reads the body on and runs the PUT (204) when the body comes within the drain limit', async () => {
    const { own, address } = await startNode();
    const put = await startPut(address, 'slow');
    own.server.child.kill('SIGTERM');
    let sent = FIRST_PART;
    while (sent < BODY_BYTES && !put.closed()) {
      const n = Math.min(STEP, BODY_BYTES - sent);
      put.sock.write(Buffer.alloc(n, 0x41));
      sent += n;
      await sleep(STEP_MS);
    }
    const status = await answer(put, 5000);
    assert.equal(
      status,
      '204',
      `the PUT got ${status} (${sent} of ${BODY_BYTES} body bytes sent): ${JSON.stringify(put.reply().slice(0, 300))}`,
    );
    assert.match(put.reply(), /\r\nConnection: close\r\n/, 'the last answer of a stopping node closes');
    assert.equal(await exitsInTime(own), 0);
    assert.match(own.server.stdout, /"in_flight":1,"msg":"draining: stopped accepting connections"/);
  });

  it('answers 503 DRAINING (not executed) when the body has not come by the drain limit', async () => {
    const { own, address } = await startNode();
    const put = await startPut(address, 'stalled');
    const t0 = performance.now();
    own.server.child.kill('SIGTERM');
    // The rest of the body never comes: the stop waits its 3 s drain limit, then refuses the PUT.
    const status = await answer(put, STOP_BOUND_MS);
    const ms = Math.round(performance.now() - t0);
    assert.equal(
      status,
      '503',
      `the PUT got ${status} after ${ms} ms: ${JSON.stringify(put.reply().slice(0, 300))}`,
    );
    assert.match(put.reply(), /"code":"DRAINING"/);
    assert.equal(await exitsInTime(own), 0);
  });
});
