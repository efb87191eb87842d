/**
 * What etcdErrorText (src/coordination/etcd-error-text.ts) says of a call past its deadline, for
 * an etcd endpoint that accepts connections and never answers (a hung etcd, another service on
 * its port). grpc-js's text names the stage the call was stuck in ("waiting for name resolution",
 * "Waiting for LB pick": no connection ready, the call never sent; "remote_addr=...": sent to that
 * endpoint); the rewrite keeps only "gave up after N s". And etcd3 retries a call whose deadline
 * passed with none left, so the text it reports is the last retry's: "Deadline exceeded after
 * 0.001s". The operator reads "no answer within the call's deadline (gave up after 0.001 s)" for a
 * call that waited its whole second, and cannot tell a stuck connection from a slow etcd.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { etcdClient } from '../../src/coordination/etcd-client.js';
import { etcdErrorText } from '../../src/coordination/etcd-error-text.js';
import { CALL_TIMEOUT_MS, callOptions } from '../../src/coordination/etcd-keyspace.js';

/** silentServer accepts loopback connections and never writes a byte. */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, port, sockets };
}

describe('etcdErrorText for a call past its deadline', () => {
  it('does not say a call that waited its whole deadline gave up after a millisecond', async () => {
    const { server, port, sockets } = await silentServer();
    const etcd = etcdClient({
      hosts: [`127.0.0.1:${port}`],
      dialTimeoutMs: CALL_TIMEOUT_MS,
      retryMs: 250,
      watchMaxRetryMs: 1000,
    });
    try {
      const started = performance.now();
      const err = await etcd
        .get('x')
        .options(callOptions())
        .string()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      const waitedS = (performance.now() - started) / 1000;
      assert.ok(err instanceof Error, 'the call to a silent endpoint failed');
      const text = etcdErrorText(err);
      const said = /gave up after ([\d.]+) s/.exec(text);
      // Against the deadline the call waited out, not the time the test measured around it: a
      // process starved between the call's end and the test's clock read counted seconds more.
      assert.ok(
        said === null || Number(said[1]) >= CALL_TIMEOUT_MS / 1000 / 2,
        `the call waited ${waitedS.toFixed(3)} s; the line says "${text}" (raw: "${err.message}")`,
      );
    } finally {
      etcd.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('keeps that a call stuck waiting for a connection was never sent', () => {
    // grpc-js's text (resolving-call.js + load-balancing-call.js) when no connection became ready.
    const err = new Error('4 DEADLINE_EXCEEDED: Deadline exceeded after 1.001s,Waiting for LB pick');
    const text = etcdErrorText(err);
    assert.match(text, /LB pick|connect|not sent|never sent/i, `said: "${text}"`);
  });
});
