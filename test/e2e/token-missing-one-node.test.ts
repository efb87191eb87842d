/**
 * One node of a cluster left without `server.token` (started with `--token ""`), the others with
 * one: anyone who reaches it can give it a live map (`POST /_admin/map` needs no token there).
 * Before, its peers adopted that map from its `/cluster` within a peer check: one unauthenticated
 * request made the replica without the token (behind: its pulls are refused 401) the leader, the
 * real leader saved its acknowledged writes to a divergence file and they were gone from service,
 * and `distkv cluster` exited 0. Now a node with a token adopts no map from a peer without, both
 * log the difference, and `distkv cluster` names it (exit 1). One shard: leader A, replicas B and C,
 * one process each (src/server/peer-check.ts; docs/operations.md, "TLS and token rotation").
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { freePorts } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

const TOKEN = 'the-cluster-token';
const auth = { authorization: `Bearer ${TOKEN}` };

let dir = '';
let cluster: TestCluster;
let a = '';
let b = '';
let c = '';

/** LiveShard is a shard of a live map as `/cluster` shows it (`map`). */
interface LiveShard {
  idx: number;
  name: string;
  leader: string;
  replicas: string[];
  epoch: number;
  history: { epoch: number; firstSeq: number }[];
}

/** mapAt reads `node`'s live map. */
async function mapAt(node: string): Promise<{ version: number; shards: LiveShard[] }> {
  const doc = (await (await fetch(`http://${node}/cluster`)).json()) as {
    map: { version: number; shards: LiveShard[] };
  };
  return doc.map;
}

/** files lists every file under `d`, recursively. */
function files(d: string): string[] {
  return readdirSync(d, { recursive: true, encoding: 'utf8' });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-token-missing-'));
  const ports = await freePorts(3);
  [a, b, c] = ports.map((p) => `127.0.0.1:${String(p)}`) as [string, string, string];
  cluster = await TestCluster.start({
    dir,
    shards: [{ address: a, replicas: [b, c] }],
    extraToml: `[server]\ntoken = "${TOKEN}"\n`,
    later: [c],
    args: ['--inline'],
    env: { DISTKV_LOG_LEVEL: 'info' },
  });
  await cluster.startNode(c, undefined, ['--token', '']);
});

after(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a node without server.token among nodes with one', () => {
  it('its peers adopt no map given to it without a token; acknowledged writes stay; distkv cluster says so', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${a}/kv/k${String(i)}?w=1`, {
        method: 'PUT',
        body: `v${String(i)}`,
        headers: auth,
      });
      assert.equal(r.status, 204, await r.text());
    }
    // The forged map, sent to C with no token: C leads from its seq (0: its pulls are refused).
    const theirs = await mapAt(c);
    const s = theirs.shards[0]!;
    const forged = {
      version: theirs.version + 1,
      shards: [
        {
          ...s,
          leader: c,
          replicas: [a, b],
          epoch: s.epoch + 66,
          history: [...s.history, { epoch: s.epoch + 66, firstSeq: 1 }],
        },
      ],
    };
    const posted = await fetch(`http://${c}/_admin/map`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(forged),
    });
    assert.equal(posted.status, 200, await posted.text());
    assert.equal((await mapAt(c)).shards[0]!.leader, c, 'C took the map (the premise)');
    // Three peer checks (every 2 s) pass.
    await new Promise((r) => setTimeout(r, 6500));
    for (const n of [a, b]) {
      const m = await mapAt(n);
      assert.equal(m.version, theirs.version, `${n} adopted the map given to ${c} without a token`);
      assert.equal(m.shards[0]!.leader, a);
    }
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://${a}/kv/k${String(i)}`);
      const body = await r.text();
      assert.equal(r.status, 200, `k${String(i)} lost: ${body}`);
      assert.equal(body, `v${String(i)}`);
    }
    assert.deepEqual(
      files(dir).filter((f) => f.includes('diverged')),
      [],
      'no divergence file: nothing was cut off',
    );
    assert.match(
      cluster.process(a).stdout,
      new RegExp(`node ${c} runs without server.token, this node with one`),
    );
    assert.match(
      cluster.process(c).stdout,
      new RegExp(`this node runs without server.token, node ${a} with one`),
    );
    const r = await runCli(['cluster', '--url', a, '--token', TOKEN]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^distkv cluster: not healthy: nodes differ in server.token: ${c} without one, ${[a, b].sort().join(', ')} with one`,
        'm',
      ),
      r.stderr,
    );
  });
});
