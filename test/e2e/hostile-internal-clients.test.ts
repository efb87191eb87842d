/**
 * Hostile and careless clients of the internal endpoints (docs/api.md, "Internal endpoints") on
 * nodes without `server.token`, each its own `distkv serve --node` process on loopback:
 *  - a pull naming a real (stopped) replica, sent from another loopback address, must not be taken
 *    for that replica's ack: `w=1` counts only real replicas (design section 6, "Acks are honest");
 *  - a live map with the largest version a map may have must not leave the cluster unable to fail
 *    over (every later map needs a higher version). Unread streams: unread-replication-streams.
 * Every loop is bounded in count and time; every socket is closed at the end.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';

let dir = '';
let L = '';
let R = '';
let config = '';
const running = new Map<string, ServerProcess>();

async function start(node: string, file = config): Promise<void> {
  const p = await ServerProcess.start(
    ['--config', file, '--node', node, '--data-dir', join(dir, node.replace(':', '_')), '--workers', '1'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  running.set(node, p);
}

/** getFrom sends GET `path` to `node` from the local address `from`; resolves with status and headers. */
function getFrom(
  node: string,
  path: string,
  from: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const [host, port] = node.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), path, localAddress: from, agent: false, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-hostile-internal-'));
  const [pl, pr] = await freePorts(2);
  L = `127.0.0.1:${pl}`;
  R = `127.0.0.1:${pr}`;
  config = writeConfig(dir, [{ address: L, replicas: [R] }], '[replication]\npull_wait_ms = 200\n');
});

after(async () => {
  await Promise.all([...running.values()].map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a forged pull naming a stopped replica, sent from another loopback address', () => {
  // Without server.token a pull's replica name is its own claim, and such a pull satisfies w=1
  // (docs/failover.md, "What a forger can still do without a token"): acks are honest against a
  // hostile client only with a token, which this case checks.
  it("is refused with a token, and not counted as that replica's w=1 ack", async () => {
    const sub = join(dir, 'token');
    mkdirSync(sub);
    const [pl, pr] = await freePorts(2);
    const TL = `127.0.0.1:${pl}`;
    const TR = `127.0.0.1:${pr}`;
    const file = writeConfig(
      sub,
      [{ address: TL, replicas: [TR] }],
      '[server]\ntoken = "forge-test-token"\n[replication]\npull_wait_ms = 200\n',
    );
    await start(TL, file);
    const alone = await fetch(`http://${TL}/kv/before?w=1&timeout_ms=300`, { method: 'PUT', body: 'v' });
    await alone.arrayBuffer();
    assert.equal(alone.status, 504, 'the replica is not running: w=1 times out');
    const probe = await getFrom(
      TL,
      `/_repl/pull?shard=0&after=0&wait_ms=0&max_bytes=1&replica=${TR}`,
      '127.0.0.9',
    );
    assert.equal(probe.status, 401, 'a pull without the token is refused');
    const put = fetch(`http://${TL}/kv/forged-ack?w=1&timeout_ms=2000`, { method: 'PUT', body: 'v' });
    // While the write waits, pull at and above its seq, naming the replica, from 127.0.0.9.
    for (let i = 0; i < 10; i++) {
      await new Promise((res) => setTimeout(res, 100));
      await getFrom(
        TL,
        `/_repl/pull?shard=0&after=${i + 1}&wait_ms=0&max_bytes=1&replica=${TR}`,
        '127.0.0.9',
      );
    }
    const r = await put;
    await r.arrayBuffer();
    assert.equal(
      r.status,
      504,
      'a pull from 127.0.0.9 claiming to be the replica was counted as it holding the write',
    );
  });
});

/**
 * postLargestMap posts `node`'s own map at version 2^53-1 to its /_admin/map; resolves with whether
 * it was adopted (200), after checking that a refusal names the bound.
 */
async function postLargestMap(node: string): Promise<boolean> {
  const current = (await (await fetch(`http://${node}/cluster`)).json()) as { map: { shards: unknown[] } };
  const posted = await fetch(`http://${node}/_admin/map`, {
    method: 'POST',
    body: JSON.stringify({ version: Number.MAX_SAFE_INTEGER, shards: current.map.shards }),
  });
  const answer = await posted.text();
  if (posted.status === 400) {
    assert.match(answer, /version must be at most/);
    return false;
  }
  assert.equal(posted.status, 200, answer);
  return true;
}

describe('a map of the largest version, without a token', () => {
  before(async () => {
    await start(L);
  });

  it('fails over after a map with the largest version was posted to /_admin/map', async () => {
    await start(R);
    // Refused, the cluster keeps room for its next maps: nothing more to check.
    if (!(await postLargestMap(L))) return;
    const res = await runCli([
      'failover',
      '--url',
      L,
      '--shard',
      'shard-0',
      '--to',
      R,
      '--timeout-ms',
      '10000',
    ]);
    const after = (await (await fetch(`http://${L}/cluster`)).json()) as {
      map: { shards: { leader: string }[] };
    };
    assert.equal(
      after.map.shards[0]?.leader,
      R,
      `the failover after a map of version 2^53-1 did not move the shard: ${JSON.stringify(res)}`,
    );
  });
});

describe('a map of the largest version and an unclean stop', () => {
  it('starts again after kill -9 with durability "interval" once a map of version 2^53-1 was adopted', async () => {
    // An unclean stop in "interval" mode starts a new epoch at the restart: a map of version + 1.
    mkdirSync(join(dir, 'interval'));
    const [port] = await freePorts(1);
    const node = `127.0.0.1:${port}`;
    const file = writeConfig(
      join(dir, 'interval'),
      [{ address: node }],
      '[storage]\ndurability = "interval"\n',
    );
    await start(node, file);
    assert.equal((await fetch(`http://${node}/kv/a`, { method: 'PUT', body: 'v' })).status, 204);
    // Refused, the next start has room for its map: nothing more to check.
    if (!(await postLargestMap(node))) return;
    const killed = running.get(node);
    killed?.child.kill('SIGKILL');
    await killed?.stop();
    running.delete(node);
    try {
      await start(node, file);
    } catch (err) {
      assert.fail(`the node did not start again after kill -9: ${String(err).slice(-300)}`);
    }
    const r = await fetch(`http://${node}/kv/a`);
    assert.equal(await r.text(), 'v');
  });
});
