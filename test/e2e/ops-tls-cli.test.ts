/**
 * The operator's commands of docs/operations.md against a TLS cluster (server.tls_cert, tls_key and
 * tls_ca, "TLS and token rotation"), with `--ca`: `distkv cluster`, `backup` and `restore` ask nodes
 * by the addresses `/cluster` names (HOST:PORT), and the client read such an address as http and
 * refused it under https ("node ... is http, but this client talks https"). So `distkv cluster`
 * showed every node but the first DOWN and exited 1 with a leader up, told the operator to run a
 * forced failover, and `distkv backup` and `restore` failed with INVALID_ARGUMENT.
 * Two processes: A leads shard 0 (replicated to B), B leads shard 1.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { caSignedNodeCert, waitHealthyTls } from '../helpers/test-certs.js';

const servers: ServerProcess[] = [];
// Registered first, so the servers stop before their directory is removed.
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
const dir = tempDir(after);
let A = '';
let B = '';
let caFile = '';

const cli = (...args: string[]) =>
  runCli([...args, '--ca', caFile], { DISTKV_URL: `https://${A}`, NODE_EXTRA_CA_CERTS: '' });

before(async () => {
  caSignedNodeCert(dir);
  caFile = join(dir, 'ca.pem');
  const [pa, pb] = await freePorts(2);
  A = `127.0.0.1:${pa}`;
  B = `127.0.0.1:${pb}`;
  const config = writeConfig(
    dir,
    [
      { address: A, replicas: [B] },
      { address: B, replicas: [] },
    ],
    `[server]\ntls_cert = "${join(dir, 'node.pem')}"\ntls_key = "${join(dir, 'node-key.pem')}"\ntls_ca = "${caFile}"\n`,
  );
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
  for (const [i, node] of [A, B].entries())
    servers.push(
      ServerProcess.spawn(
        ['serve', '--config', config, '--node', node, '--data-dir', join(dir, `data-${i}`), '--workers', '1'],
        env,
      ),
    );
  const agent = new Agent({ connect: { ca: readFileSync(caFile) } });
  try {
    await Promise.all([A, B].map((node, i) => waitHealthyTls(servers[i]!, node, agent)));
  } finally {
    await agent.close();
  }
});

describe('the operator commands against a TLS cluster', () => {
  it('distkv cluster asks every node over https: none shown DOWN, exit 0', async () => {
    // Exit 0 says healthy: B's replica of shard 0 follows A too. One that pulled before A listened
    // backs off (up to 5 s); until it streams the command exits 1 naming it, and only it (this
    // accepted exit 0 with the replica "disconnected" or "starting": the command said healthy).
    let r = await cli('cluster');
    for (const deadline = Date.now() + 20000; r.code !== 0 && Date.now() < deadline;) {
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(
        r.stderr.trimEnd(),
        new RegExp(`^distkv cluster: not healthy: shard-0: replica ${B} does not follow its leader [^\\n]*$`),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await cli('cluster');
    }
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /DOWN|NO LEADER/, r.stdout);
    // B answered: its replica of shard 0 shows its state and lag, not DOWN.
    assert.match(r.stdout, new RegExp(`${B.replace(/\./g, '\\.')} \\(streaming, \\d+ seqs`), r.stdout);
  });

  it('distkv backup copies every shard and distkv restore writes it back', async () => {
    for (const [k, v] of [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]) {
      const w = await cli('set', k!, v!);
      assert.equal(w.code, 0, w.stderr);
    }
    const file = join(dir, 'all.dkv');
    const b = await cli('backup', file);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /wrote .*all\.dkv: 3 keys from 2 shards/, b.stdout);
    const r = await cli('restore', file, '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored 3 keys/, r.stdout);
  });
});
