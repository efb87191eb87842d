/**
 * A replica that cannot verify its leader's certificate (its `server.tls_ca` is another CA than the
 * one that signed the leader's certificate: a CA changed on one node only, or a certificate
 * replaced by one from a new CA before the bundle reached the replicas) never follows, and says
 * so only at info: `replication: waiting for the leader to come up (it does not answer yet)`, the
 * TLS error in its `error` field, and a warn "no peer answered at start". The leader is up and
 * answers; the same goes for a leader whose certificate expired between two restarts ("certificate
 * has expired"). As for a 401 (test/e2e/replica-refused-log.test.ts), an operator waits for a
 * leader that has been answering all along.
 *
 * What a user expects: a warn (or error) replication line that names the certificate as the cause.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, ServerProcess } from '../helpers/server-process.js';
import { caSignedNodeCert } from '../helpers/test-certs.js';

interface LogLine {
  level: number;
  msg: string;
  error?: string;
}

describe('a replica that does not trust its leader’s certificate', { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-tls-refused-log-');

  it('logs the certificate as the cause at warn, not as a leader that is not up yet', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const own = join(dir, 'own-ca');
    const other = join(dir, 'other-ca');
    mkdirSync(own);
    mkdirSync(other);
    caSignedNodeCert(own);
    caSignedNodeCert(other);
    const shards = `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${L}"\nreplicas = ["${R}"]\n`;
    const config = (name: string, ca: string): string => {
      const path = join(dir, name);
      const server = `[server]\ntls_cert = "${join(own, 'node.pem')}"\ntls_key = "${join(own, 'node-key.pem')}"\ntls_ca = "${ca}"\n`;
      writeFileSync(path, `${shards}\n${server}`);
      return path;
    };
    const start = (node: string, cfg: string): ServerProcess => {
      const p = ServerProcess.spawn([
        'serve',
        '--config',
        cfg,
        '--node',
        node,
        '--data-dir',
        join(dir, node.replace(':', '_')),
        '--workers',
        '1',
      ]);
      running.push(p);
      return p;
    };
    start(L, config('leader.toml', join(own, 'ca.pem')));
    const replica = start(R, config('replica.toml', join(other, 'ca.pem')));

    const lines = (): LogLine[] =>
      replica.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.msg.startsWith('replication:') && l.error !== undefined);
    for (let t = 0; t < 100 && !lines().some((l) => /certificate/i.test(l.error ?? '')); t++)
      await new Promise((r) => setTimeout(r, 100));
    const failed = lines().find((l) => /certificate/i.test(l.error ?? ''));
    assert.ok(failed, `no replication line with the certificate error; replica output:\n${replica.stdout}`);
    assert.doesNotMatch(
      failed.msg,
      /waiting for the leader to come up/,
      'the leader is up: its certificate is not trusted',
    );
    assert.ok(
      failed.level >= 40,
      `logged at level ${String(failed.level)}: ${failed.msg} (${String(failed.error)})`,
    );
  });
});
