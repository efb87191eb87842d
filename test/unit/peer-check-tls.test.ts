/**
 * A peer whose TLS handshake fails (src/server/peer-check.ts, start-warnings.ts): it counts as
 * unreachable, but it is up, so the check logs its certificate problem with what to check (once,
 * not every round), and the start's warning names the TLS failure instead of "no peer answered".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { PeerCheck } from '../../src/server/peer-check.js';
import { warnIfAlone } from '../../src/server/start-warnings.js';
import { freePort } from '../helpers/ports.js';
import { selfSignedCert } from '../helpers/test-certs.js';

interface Line {
  level: number;
  msg: string;
  err?: string;
}

describe('PeerCheck of a peer whose certificate is not trusted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-peer-tls-'));
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs the certificate problem once and names it in the start warning', async () => {
    const { key, cert } = selfSignedCert(dir);
    const srv = createServer({ key, cert }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: 'abc' }));
    });
    servers.push(srv);
    const port = await freePort();
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    const peer = `127.0.0.1:${String(port)}`;
    const gone = `127.0.0.1:${String(await freePort())}`;
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
    // No ca: the system's CAs, which did not sign the peer's self-signed certificate.
    const check = new PeerCheck([peer, gone], 'abc', 'https', log);
    await check.checkAll();
    await check.checkAll();
    assert.deepEqual(
      check.view().map((p) => p.state),
      ['unreachable', 'unreachable'],
    );
    assert.deepEqual(
      check.untrusted().map((u) => [u.address, u.tls.code]),
      [[peer, 'DEPTH_ZERO_SELF_SIGNED_CERT']],
    );
    const [tlsLine, ...more] = lines.filter((l) => l.msg.includes('TLS handshake'));
    assert.ok(tlsLine !== undefined && more.length === 0, JSON.stringify(lines));
    assert.equal(tlsLine.level, 40);
    assert.match(tlsLine.msg, new RegExp(`node ${peer} answers.*server\\.tls_ca`));

    warnIfAlone(log, check, 3);
    const start = lines.at(-1);
    assert.ok(start !== undefined);
    assert.equal(start.level, 40);
    assert.doesNotMatch(start.msg, /no peer answered/);
    assert.match(
      start.msg,
      new RegExp(
        `TLS handshake failed with ${peer}: self-signed certificate \\(DEPTH_ZERO_SELF_SIGNED_CERT\\), and ${gone} did not answer`,
      ),
    );
    assert.match(start.msg, /live map version 3/);
    await check.stop();
  });
});
