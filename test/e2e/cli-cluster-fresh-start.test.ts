/**
 * `distkv cluster` run as soon as a fresh cluster's nodes answer /healthz (what a deploy script
 * does) exits 0: every replica follows its leader. Two nodes, one process each, each leading one
 * shard and holding the other's replica, no writes. Before, each replica's first pull was a long
 * poll that its leader held for `pull_wait_ms` on a shard without writes, and the replica counted
 * itself `starting` (lag unknown) until it ended: "does not follow its leader (starting, lag
 * unknown; its leader has not answered it since it started)", exit 1, for a second by default and
 * here, with `pull_wait_ms = 5000`, for five.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { freePorts } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

let dir = '';
let cluster: TestCluster;
let a = '';
let b = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-fresh-start-'));
  [a, b] = (await freePorts(2)).map((p) => `127.0.0.1:${String(p)}`) as [string, string];
  cluster = await TestCluster.start({
    dir,
    shards: [
      { address: a, replicas: [b] },
      { address: b, replicas: [a] },
    ],
    extraToml: '[replication]\npull_wait_ms = 5000\n',
  });
});

after(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('distkv cluster right after a start', () => {
  it('exits 0 once every node answers /healthz: each replica follows at its first answered pull', async () => {
    const r = await runCli(['cluster', '--url', a]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /lag unknown/);
  });
});
