/**
 * TLS with a private CA, through public behaviour only: two `distkv serve` processes with
 * tls_cert/tls_key signed by a CA made for this test and `server.tls_ca` naming it, started without
 * NODE_EXTRA_CA_CERTS, one process per node. Node A leads shard 0 (replicated to C) and B leads
 * shard 1, so C's replica pulls from A over HTTPS and A forwards the shard-1 parts of scans and
 * batches to B over HTTPS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { DistkvClient } from '../../src/client/client.js';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { DistkvError } from '../../src/errors.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard as firstKeyInShard } from '../helpers/hosted-pair.js';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT, ServerProcess, writeConfig } from '../helpers/server-process.js';
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
let C = '';
let caFile = '';
let ca: Buffer;
let agent: Agent;
let shardMap: ShardMap;
let configFile = '';

const keyInShard = (shard: number, prefix: string): string => firstKeyInShard(shardMap, shard, prefix);

before(async () => {
  caSignedNodeCert(dir);
  caFile = join(dir, 'ca.pem');
  ca = readFileSync(caFile);
  agent = new Agent({ connect: { ca } });
  const [pa, pb, pc] = await freePorts(3);
  A = `127.0.0.1:${pa}`;
  B = `127.0.0.1:${pb}`;
  C = `127.0.0.1:${pc}`;
  const config = (configFile = writeConfig(
    dir,
    [
      { address: A, replicas: [C] },
      { address: B, replicas: [] },
    ],
    `[server]\ntoken = "sekrit"\ntls_cert = "${join(dir, 'node.pem')}"\ntls_key = "${join(dir, 'node-key.pem')}"\ntls_ca = "${caFile}"\n`,
  ));
  shardMap = new ShardMap(
    [0, 1].map((i) => ({
      name: `shard-${i}`,
      idx: i,
      address: i === 0 ? A : B,
      replicas: i === 0 ? [C] : [],
      slots: defaultSlotRange(i, 2),
    })),
  );
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
  // One data directory per process: each `serve` holds its directory's LOCK.
  for (const [i, node] of [A, B, C].entries()) {
    const p = ServerProcess.spawn(
      ['serve', '--config', config, '--node', node, '--data-dir', join(dir, `data-${i}`), '--workers', '1'],
      env,
    );
    servers.push(p);
  }
  await Promise.all([A, B, C].map((node, i) => waitHealthyTls(servers[i]!, node, agent)));
});

after(async () => {
  await agent.close();
});

describe('TLS with a private CA (server.tls_ca, client ca)', () => {
  it('logs https:// for an HTTPS listener', () => {
    assert.match(
      servers[0]!.stdout + servers[0]!.stderr,
      new RegExp(`listening on https://${A.replace(/\./g, '\\.')}`),
    );
  });

  it('serves the client with `ca`, forwards scans and batches between nodes, and replicates over HTTPS', async () => {
    const client = new DistkvClient({ urls: [`https://${A}`], ca });
    try {
      const k0 = keyInShard(0, 'tls-');
      const k1 = keyInShard(1, 'tls-');
      await client.put(k0, 'zero');
      await client.put(k1, 'one');
      assert.equal(await client.getString(k1), 'one');
      // A scan sent to A holds B's shard too: A asked B over HTTPS.
      const page = await client.scanPage('tls-', { limit: 10 });
      assert.deepEqual(
        page.items.map((i) => [i.key, i.value.toString()]),
        [
          [k0, 'zero'],
          [k1, 'one'],
        ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
      );
      // A batch sent to A alone (raw, so A must forward the shard-1 operation to B).
      const res = await request(`https://${A}/kv/_batch`, {
        method: 'POST',
        dispatcher: agent,
        body: JSON.stringify([{ op: 'set', key: keyInShard(1, 'tls-b-'), value: 'via A' }]),
      });
      assert.deepEqual(await res.body.json(), { results: [{ ok: true }], errors: 0 });
      assert.equal(await client.getString(keyInShard(1, 'tls-b-')), 'via A');
      // C's replica of shard 0 pulls from A over HTTPS: reads at C see the write.
      const reader = new DistkvClient({ urls: [`https://${C}`], ca, replicaReads: true });
      try {
        const deadline = Date.now() + 15000;
        let seen: string | undefined;
        while (seen !== 'zero' && Date.now() < deadline) {
          seen = await reader.getString(k0);
          if (seen !== 'zero') await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(seen, 'zero', `replica never caught up:\n${servers[2]!.stdout}`);
      } finally {
        await reader.close();
      }
    } finally {
      await client.close();
    }
  });

  // A client speaking plain HTTP to the HTTPS port was closed without a byte ("empty reply from
  // server"); it is answered 400, saying the port speaks HTTPS, and closed.
  it('answers plain HTTP sent to the HTTPS port with a 400 that says so', async () => {
    const [host, port] = [A.slice(0, A.lastIndexOf(':')), Number(A.slice(A.lastIndexOf(':') + 1))];
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.write(`GET /kv/x HTTP/1.1\r\nHost: ${A}\r\n\r\n`);
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        resolve(text);
      });
      socket.setTimeout(10000, () =>
        socket.destroy(new Error(`no close within 10 s; read ${JSON.stringify(text)}`)),
      );
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /speaks HTTPS/);
    // HTTPS on the same port still works after it.
    const r = await request(`https://${A}/healthz`, { dispatcher: agent });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
  });

  it('refuses the nodes without the CA (the trust comes from the option, not the environment)', async () => {
    const client = new DistkvClient({ urls: [`https://${A}`], retries: 0 });
    try {
      await assert.rejects(
        client.get('x'),
        (err: unknown) => err instanceof DistkvError && err.code === 'SHARD_UNREACHABLE',
      );
    } finally {
      await client.close();
    }
  });

  it('lets the CLI trust the CA with --ca or DISTKV_CA', () => {
    const cli = (args: string[], env: Record<string, string>): string =>
      execFileSync(process.execPath, [BIN, ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...env },
        encoding: 'utf8',
      });
    const key = keyInShard(1, 'tls-cli-');
    cli(['set', key, 'by cli', '--ca', caFile], { DISTKV_URL: `https://${A}` });
    assert.equal(cli(['get', key], { DISTKV_URL: `https://${B}`, DISTKV_CA: caFile }), 'by cli');
  });

  // `distkv map fetch` fetched with the global fetch and no CA: "did not answer GET /cluster: fetch
  // failed". It now trusts the config's server.tls_ca, as the node it writes for does.
  it("lets distkv map fetch reach an https:// peer with the config's tls_ca", () => {
    // A node's data directory whose map file is damaged (map fetch refuses a directory of no node).
    const dataDir = join(dir, 'map-fetch');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'live-map.json'), 'not json');
    const out = execFileSync(
      process.execPath,
      [BIN, 'map', 'fetch', '--from', `https://${A}`, '--config', configFile, '--data-dir', dataDir],
      { cwd: REPO_ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, encoding: 'utf8' },
    );
    assert.match(out, /^wrote live map version \d+ from https:\/\//, out);
    assert.equal(
      typeof (JSON.parse(readFileSync(join(dataDir, 'live-map.json'), 'utf8')) as { version?: unknown })
        .version,
      'number',
    );
  });

  // Last: it moves shard 0 to C. `distkv failover` had no --ca: every member "did not answer",
  // and the command called the leader down and told the operator to use --force.
  it('lets distkv failover trust the CA with --ca', () => {
    const out = execFileSync(
      process.execPath,
      [BIN, 'failover', '--shard', 'shard-0', '--url', `https://${A}`, '--token', 'sekrit', '--ca', caFile],
      { cwd: REPO_ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: '', DISTKV_CA: '' }, encoding: 'utf8' },
    );
    assert.match(out, new RegExp(`^shard-0: leader ${A} → ${C} in epoch \\d+`), out);
  });
});
