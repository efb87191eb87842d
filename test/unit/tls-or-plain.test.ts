/**
 * The HTTPS listener's first look at a connection (src/http/tls-or-plain.ts): a TLS client goes
 * through to the TLS server with its first bytes intact, a plain-text client gets the answer and
 * is closed, and a connection that sends nothing, or closes before a byte, is not kept.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { tlsOrPlainServer } from '../../src/http/tls-or-plain.js';
import { tempDir } from '../helpers/temp-dir.js';
import { selfSignedCert } from '../helpers/test-certs.js';

const { key, cert } = selfSignedCert(tempDir(after));

async function listen(firstByteMs: number): Promise<{ server: Server; port: number }> {
  const tls = createTlsServer({ key, cert }, (s) => {
    s.once('data', (d: Buffer) => s.end(`echo ${d.toString()}`));
  });
  const server = tlsOrPlainServer(tls, () => 'plain answer', firstByteMs);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return { server, port: (server.address() as AddressInfo).port };
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, n) => {
      if (err) reject(err);
      else resolve(n);
    }),
  );
}

async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return what();
}

describe('tlsOrPlainServer', () => {
  it('hands a TLS client to the TLS server, its first bytes intact', async () => {
    const { port } = await listen(5000);
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    socket.write('hello');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await once(socket, 'end');
    socket.destroy();
    assert.equal(text, 'echo hello');
  });

  it('answers a plain-text client and closes once it has read the answer', async () => {
    const { server, port } = await listen(5000);
    const socket = connect({ host: '127.0.0.1', port });
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nmore bytes the server drops');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await once(socket, 'end');
    assert.equal(text, 'plain answer');
    socket.end();
    assert.ok(await until(async () => (await connections(server)) === 0, 2000), 'the server kept the socket');
  });

  it('does not keep a connection that closes before a byte, nor one that sends nothing', async () => {
    const { server, port } = await listen(300);
    const closer = connect({ host: '127.0.0.1', port });
    await once(closer, 'connect');
    closer.end();
    assert.ok(await until(async () => (await connections(server)) === 0, 2000), 'a closed client kept');
    const silent = connect({ host: '127.0.0.1', port });
    await once(silent, 'connect');
    const started = Date.now();
    await once(silent, 'close');
    assert.ok(Date.now() - started >= 250, 'closed before its time');
    assert.equal(await connections(server), 0);
  });
});
