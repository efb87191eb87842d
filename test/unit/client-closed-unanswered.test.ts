/**
 * A client (and so the CLI) given an address whose server closes the connection without answering
 * (redis-server does that to an HTTP request: it reads the "Host:" line as a cross-protocol attack):
 * the error says the node closed it before answering and what that may mean. It said only "no node
 * answered /cluster (127.0.0.1:6379): other side closed", undici's words, naming neither side.
 * Twin: a TCP server that closes each connection on its first bytes, as redis-server 7 does.
 * A TLS server (a node with server.tls_cert) closes a plain HTTP connection alike: the error then
 * says to give the node as https:// (it named only the Redis server).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { selfSignedCert } from '../helpers/test-certs.js';

let server: Server;
let address = '';

before(async () => {
  server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

after(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

const CLOSED = /closed the connection before it answered in full: .*not a distkv node's HTTP address/;

describe('a server that closes the connection unanswered', () => {
  it('is named so by the client library', async () => {
    const kv = new DistkvClient({ urls: [address], retries: 0 });
    try {
      await assert.rejects(kv.get('k'), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, CLOSED);
        return true;
      });
    } finally {
      await kv.close();
    }
  });

  it('is named so by `distkv get` (exit 1)', async () => {
    const r = await runCli(['get', 'k', '--url', address]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, CLOSED);
  });
});

describe('a node that serves HTTPS, given as http://', () => {
  it('is named so, with the https:// to give instead', async () => {
    const dir = tempDir(after);
    const tls = createTlsServer(selfSignedCert(dir));
    tls.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${String((tls.address() as AddressInfo).port)}`;
    const kv = new DistkvClient({ urls: [`http://${at}`], retries: 0 });
    try {
      await assert.rejects(kv.get('k'), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.match(err.message, /serves HTTPS \(server\.tls_cert\).*give it as https:\/\/HOST:PORT/);
        return true;
      });
    } finally {
      await kv.close();
      await new Promise<void>((resolve) => {
        tls.close(() => {
          resolve();
        });
      });
    }
  });
});
