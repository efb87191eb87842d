/**
 * The two TLS mistakes a first-time user makes, told as what to do: an `https://` address for a
 * node that serves plain HTTP (it used to print OpenSSL's own line, "...:error:0A00010B:SSL
 * routines:ssl3_get_record:wrong version number:../deps/openssl/...", and a blank line), and a node
 * whose certificate no trusted CA signed without the CA given ("self-signed certificate" alone);
 * and a node whose certificate expired ("certificate has expired" alone, as if the client's).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { freePorts } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';
import { caSignedNodeCert, expiredNodeCert, selfSignedCert } from '../helpers/test-certs.js';

const servers: Server[] = [];
let plain = '';
let secure = '';
let expired = '';

after(() => {
  for (const s of servers) s.close();
});

// Created here, not in before(): an after() registered inside a before() runs as soon as that hook ends.
const dir = tempDir(after);

before(async () => {
  const cert = selfSignedCert(dir);
  const caDir = join(dir, 'ca');
  const expiredDir = join(dir, 'expired');
  mkdirSync(caDir);
  mkdirSync(expiredDir);
  caSignedNodeCert(caDir);
  expiredNodeCert(caDir, expiredDir);
  const [p1, p2, p3] = await freePorts(3);
  const answer = (_req: unknown, res: { end: (s: string) => void }): void => {
    res.end('{}');
  };
  const http = createHttpServer(answer);
  const https = createHttpsServer(cert, answer);
  const old = createHttpsServer(
    { key: readFileSync(join(expiredDir, 'node-key.pem')), cert: readFileSync(join(expiredDir, 'node.pem')) },
    answer,
  );
  servers.push(http, https, old);
  await new Promise<void>((resolve) => http.listen(p1, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => https.listen(p2, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => old.listen(p3, '127.0.0.1', resolve));
  plain = `127.0.0.1:${p1!}`;
  secure = `127.0.0.1:${p2!}`;
  expired = `127.0.0.1:${p3!}`;
});

/** failure returns the error of a read through a client of `url` (trusting `ca`, if given). */
async function failure(url: string, ca?: Buffer): Promise<DistkvError> {
  const kv = new DistkvClient({ urls: [url], ...(ca === undefined ? {} : { ca }) });
  try {
    await kv.get('k');
  } catch (err) {
    assert.ok(err instanceof DistkvError, String(err));
    return err;
  } finally {
    await kv.close();
  }
  assert.fail('the read succeeded');
}

describe('client TLS mistakes', () => {
  it('says an https:// address names a node that serves plain HTTP, without OpenSSL internals', async () => {
    const err = await failure(`https://${plain}`);
    assert.equal(err.code, 'SHARD_UNREACHABLE');
    assert.match(err.message, /does not answer in TLS .*give it as http:\/\/HOST:PORT or HOST:PORT/);
    assert.doesNotMatch(err.message, /openssl|ssl3_get_record|\n/);
  });

  it('says to give the CA when the node certificate is not signed by a trusted one', async () => {
    const err = await failure(`https://${secure}`);
    assert.equal(err.code, 'SHARD_UNREACHABLE');
    assert.match(err.message, /self-signed certificate: .*not signed by a CA this client trusts .*--ca FILE/);
  });

  it('says the node certificate is out of its dates when it expired', async () => {
    const err = await failure(`https://${expired}`, readFileSync(join(dir, 'ca', 'ca.pem')));
    assert.equal(err.code, 'SHARD_UNREACHABLE');
    assert.match(
      err.message,
      /certificate has expired: the node's certificate is outside its validity dates/,
    );
  });
});
