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
import { nodesFixture, runCli, ServerProcess } from '../helpers/server-process.js';
import { caSignedNodeCert, expiredNodeCert } from '../helpers/test-certs.js';

interface LogLine {
  level: number;
  msg: string;
  error?: string;
}

/** logLines are the JSON log lines of a node's output. */
const logLines = (p: ServerProcess): LogLine[] =>
  p.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

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

describe('a leader restarted with an expired certificate', { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-tls-expired-log-');

  it('warns of its own dates at start, and its replica warns of the expired certificate', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const ca = join(dir, 'ca');
    const expired = join(dir, 'expired');
    mkdirSync(ca);
    mkdirSync(expired);
    caSignedNodeCert(ca);
    expiredNodeCert(ca, expired);
    const shards = `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${L}"\nreplicas = ["${R}"]\n`;
    const start = (node: string, certDir: string): ServerProcess => {
      const cfg = join(dir, `${node.replace(':', '_')}.toml`);
      const server = `[server]\ntls_cert = "${join(certDir, 'node.pem')}"\ntls_key = "${join(certDir, 'node-key.pem')}"\ntls_ca = "${join(ca, 'ca.pem')}"\n`;
      writeFileSync(cfg, `${shards}\n${server}`);
      const data = join(dir, node.replace(':', '_'));
      const p = ServerProcess.spawn([
        'serve',
        '--config',
        cfg,
        '--node',
        node,
        '--data-dir',
        data,
        '--workers',
        '1',
      ]);
      running.push(p);
      return p;
    };
    const leader = start(L, expired);
    const own = (): LogLine | undefined => logLines(leader).find((l) => l.msg.includes('out of its dates'));
    // The replica's start finds the leader listening (else its warning is the normal "no peer answered").
    const listening = (): boolean => leader.stdout.includes(`listening on https://${L}`);
    for (let t = 0; t < 150 && !listening(); t++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(listening(), `the leader does not listen; its output:\n${leader.stdout}\n${leader.stderr}`);
    const replica = start(R, ca);

    const pulls = (): LogLine | undefined =>
      logLines(replica).find((l) => l.msg.startsWith('replication:') && l.msg.includes('CERT_HAS_EXPIRED'));
    const alone = (): LogLine | undefined => logLines(replica).find((l) => l.msg.includes('at start'));
    for (let t = 0; t < 150 && [own(), pulls(), alone()].includes(undefined); t++)
      await new Promise((r) => setTimeout(r, 100));

    const dates = own();
    assert.ok(dates, `no warning of the leader's own dates; leader output:\n${leader.stdout}`);
    assert.equal(dates.level, 40);
    assert.match(
      dates.msg,
      /expired \d+ days ago \(valid from Jan {2}1 00:00:00 2020 GMT to Feb {2}1 00:00:00 2020 GMT\)/,
    );
    const failed = pulls();
    assert.ok(
      failed,
      `no replication line naming the expired certificate; replica output:\n${replica.stdout}`,
    );
    assert.equal(failed.level, 40);
    assert.match(failed.msg, /validity dates/);
    const started = alone();
    assert.ok(started, `no start warning; replica output:\n${replica.stdout}`);
    assert.doesNotMatch(started.msg, /no peer answered/);
    assert.match(started.msg, new RegExp(`TLS handshake failed with ${L}: certificate has expired`));

    // distkv cluster, asking the replica: the leader is up with an expired certificate, not DOWN,
    // and no failover is advised (it was: "NO LEADER ... (DOWN)" and `distkv failover --force`).
    const health = await runCli(['cluster', '--url', `https://${R}`, '--ca', join(ca, 'ca.pem')]);
    assert.equal(health.code, 1, health.stdout + health.stderr);
    assert.match(
      health.stderr,
      new RegExp(
        `^distkv cluster: not healthy: node ${L} answers, but the TLS handshake with it fails: certificate has expired \\(CERT_HAS_EXPIRED\\); its certificate is outside its validity dates`,
        'm',
      ),
      health.stderr,
    );
    assert.doesNotMatch(health.stdout + health.stderr, /DOWN|--force|does not answer|failover/);
    assert.match(health.stdout, new RegExp(`${L} \\(TLS FAILS: CERT_HAS_EXPIRED\\)`));
  });
});
