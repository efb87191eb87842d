/**
 * Certificates for the TLS tests, made with openssl in a test's own directory: a self-signed one
 * for 127.0.0.1 (a fake node that serves HTTPS), or a CA and a node certificate it signs (the
 * setup docs/operations.md shows, for `distkv serve` with tls_cert, tls_key and tls_ca). And the
 * wait for such a node to answer its health check over HTTPS.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Agent, request } from 'undici';
import type { ServerProcess } from './server-process.js';

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
};

/** selfSignedCert writes key.pem and cert.pem (CN and subjectAltName 127.0.0.1) into `dir` and returns them. */
export function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  openssl(dir, [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem'],
    ...['-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
  ]);
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/** caSignedNodeCert writes ca.pem and a node certificate for 127.0.0.1 it signs (node.pem, node-key.pem) into `dir`. */
export function caSignedNodeCert(dir: string): void {
  const req = ['req', '-newkey', 'rsa:2048', '-nodes'];
  openssl(dir, [
    ...req,
    '-x509',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=distkv CA',
  ]);
  openssl(dir, [...req, '-keyout', 'node-key.pem', '-out', 'node.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName = IP:127.0.0.1\n');
  const sign = [
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ];
  openssl(dir, ['x509', '-req', '-in', 'node.csr', ...sign, '-out', 'node.pem']);
}

/**
 * expiredNodeCert writes into `dir` a node certificate for 127.0.0.1 (node.pem, node-key.pem) that
 * the CA of `caDir` (caSignedNodeCert's) signed, valid only in January 2020: expired.
 * `openssl x509` cannot date a certificate in the past; `openssl ca` can.
 */
export function expiredNodeCert(caDir: string, dir: string): void {
  mkdirSync(join(dir, 'newcerts'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca = dated\n[dated]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = ./newcerts\nserial = ./serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n',
  );
  openssl(dir, [
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node-key.pem', '-out', 'node.csr'],
    ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
  ]);
  openssl(dir, [
    ...['ca', '-batch', '-config', 'ca.cnf', '-in', 'node.csr', '-out', 'node.pem'],
    ...['-cert', join(caDir, 'ca.pem'), '-keyfile', join(caDir, 'ca-key.pem')],
    ...['-startdate', '20200101000000Z', '-enddate', '20200201000000Z'],
  ]);
}

/** waitHealthyTls waits (20 s at most) until the node `p` runs at `address` answers GET /healthz 200 over HTTPS. */
export async function waitHealthyTls(p: ServerProcess, address: string, agent: Agent): Promise<void> {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null) throw new Error(`server exited:\n${p.stdout}\n${p.stderr}`);
    try {
      const r = await request(`https://${address}/healthz`, { dispatcher: agent });
      await r.body.dump();
      if (r.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${address} did not become healthy:\n${p.stdout}\n${p.stderr}`);
}
