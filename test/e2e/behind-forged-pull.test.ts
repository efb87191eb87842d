/**
 * A forged pull holds no shard (src/server/behind-leaders.ts; docs/failover.md, "A leader that
 * starts behind its replica"). On a cluster with no node token, one request
 * `GET /_repl/pull?shard=0&after=999999&replica=<a real replica>` to a leader that started empty
 * and took no write held the shard: every request refused with 503 LEADER_BEHIND until someone
 * ran a failover. Now the leader asks the replica's own node (its `/cluster`, the store's
 * `acked_seq`): here a fake node at the replica's address that is down, shows the replica level
 * with the leader (slowly: writes wait meanwhile), or shows it ahead. Only the last holds the
 * shard, at the position the node showed; otherwise that pull alone is refused and the shard is
 * served, reads and writes. One spawned leader per case (a write ends the watch, a hold is for good).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakePeers, sendJson } from '../helpers/fake-peer.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';

/**
 * Mode is how the fake replica node answers: down, or its replica store at `seq`, after `delayMs`
 * on a connection it has not answered on before (the leader's check of a claim opens its own; the
 * peer check, every 2 s, keeps one alive).
 */
type Mode = { down: true } | { down: false; seq: number; delayMs: number };

/** Leader is a spawned leader of one shard whose replica is a fake node. */
interface Leader {
  address: string;
  replica: string;
  proc: ServerProcess;
  setMode: (m: Mode) => void;
  /** asked resolves at the fake node's next request on a new connection (the check of a claim). */
  asked: () => Promise<void>;
  /** peerChecked resolves at the fake node's next request on a connection it answered on before (the peer check). */
  peerChecked: () => Promise<void>;
}

const dirs: string[] = [];
const procs: ServerProcess[] = [];
const peers = new FakePeers();

after(async () => {
  for (const p of procs) await p.stop();
  await peers.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** startLeader spawns a leader (a fresh, empty store) whose replica's node is a fake, down at its start. */
async function startLeader(): Promise<Leader> {
  let mode: Mode = { down: true };
  // The leader's own /cluster, once it serves.
  const own: { doc?: Record<string, unknown> } = {};
  const waiters: (() => void)[] = [];
  const peerWaiters: (() => void)[] = [];
  const seen = new WeakSet<object>();
  const replica = await peers.start((req: IncomingMessage, res: ServerResponse, self: string) => {
    const fresh = !seen.has(req.socket);
    seen.add(req.socket);
    for (const w of (fresh ? waiters : peerWaiters).splice(0)) w();
    const m = mode;
    const doc = own.doc;
    if (m.down || doc === undefined) {
      req.socket.destroy();
      return;
    }
    // The leader's own /cluster, as its replica's node shows it: same config, this store's position.
    const shards = (doc['shards'] as Record<string, unknown>[]).map((s) => ({
      ...s,
      replicas: [{ address: self, local: true, acked_seq: m.seq, state: 'following' }],
    }));
    setTimeout(
      () => {
        sendJson(res, { ...doc, map: undefined, shards });
      },
      fresh ? m.delayMs : 0,
    );
  });
  const address = `127.0.0.1:${String(await freePort('127.0.0.1'))}`;
  const dir = mkdtempSync(join(tmpdir(), 'distkv-forged-pull-'));
  dirs.push(dir);
  const config = writeConfig(dir, [{ address, replicas: [replica] }]);
  const proc = await ServerProcess.start(
    ['--config', config, '--node', address, '--data-dir', join(dir, 'data'), '--workers', '1'],
    `http://${address}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  procs.push(proc);
  own.doc = (await (await fetch(`http://${address}/cluster`)).json()) as Record<string, unknown>;
  return {
    address,
    replica,
    proc,
    setMode: (m) => {
      mode = m;
    },
    asked: () =>
      new Promise((resolve) => {
        waiters.push(resolve);
      }),
    peerChecked: () =>
      new Promise((resolve) => {
        peerWaiters.push(resolve);
      }),
  };
}

/** within resolves with `p`, or throws naming `what` when it took longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`expected within ${String(ms)} ms: ${what}`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** forge sends the forged pull: `replica` claimed at seq 999999, from a client that is no node. */
function forge(l: Leader): Promise<Response> {
  return fetch(`http://${l.address}/_repl/pull?shard=0&after=999999&replica=${l.replica}`);
}

/** errorOf reads a refusal's `{ error: { code, message } }`. */
async function errorOf(r: Response): Promise<{ code: string; message: string }> {
  return ((await r.json()) as { error: { code: string; message: string } }).error;
}

/** behindOf is `/cluster`'s `behind` of the leader of shard 0 (undefined: not held). */
async function behindOf(l: Leader): Promise<unknown> {
  const doc = (await (await fetch(`http://${l.address}/cluster`)).json()) as {
    shards: { leader: { behind?: unknown } }[];
  };
  return doc.shards[0]!.leader.behind;
}

describe('a forged pull to a leader that started empty', { timeout: 120000 }, () => {
  it('holds no shard when the replica node is down: that pull is refused, reads and writes are served', async () => {
    const l = await startLeader();
    const r = await forge(l);
    assert.equal(r.status, 503);
    const e = await errorOf(r);
    assert.equal(e.code, 'LEADER_BEHIND', 'the pull itself is refused (a real replica keeps its records)');
    assert.match(e.message, /did not confirm it \(its \/cluster was not read/);
    assert.equal(await behindOf(l), undefined, 'the shard is not held');
    const read = await fetch(`http://${l.address}/kv/k`);
    assert.equal(read.status, 404, `a read is served: ${await read.clone().text()}`);
    const write = await fetch(`http://${l.address}/kv/k`, { method: 'PUT', body: 'v' });
    assert.ok(write.ok, `a write is served: ${String(write.status)} ${await write.text()}`);
    assert.equal(await (await fetch(`http://${l.address}/kv/k`)).text(), 'v');
    const log = l.proc.stdout + l.proc.stderr;
    assert.match(
      log,
      /a pull from 127\.0\.0\.1:\d+ claimed that replica .* holds records through seq 999999/,
    );
    assert.match(log, /not confirmed/);
    assert.doesNotMatch(log, /LEADER BEHIND/);
  });

  it('fences writes while the node is asked; the node showing the replica level, the shard is served', async () => {
    const l = await startLeader();
    l.setMode({ down: false, seq: 0, delayMs: 600 });
    // The peer check's connection is open first: the request the node sees next on a new one is
    // the claim's check, which fenced the writes before asking.
    await l.peerChecked();
    const asked = l.asked();
    const pull = forge(l);
    await within(asked, 10000, "the claim was checked with the replica's node");
    const during = await fetch(`http://${l.address}/kv/d`, { method: 'PUT', body: 'v' });
    assert.equal(during.status, 503, 'no write is taken while the claim is checked');
    assert.equal((await errorOf(during)).code, 'SWITCHING_LEADER');
    const r = await pull;
    assert.equal(r.status, 503);
    assert.match((await errorOf(r)).message, /its node shows it at seq 0, not above the leader's 0/);
    assert.equal(await behindOf(l), undefined);
    const write = await fetch(`http://${l.address}/kv/d`, { method: 'PUT', body: 'v' });
    assert.ok(write.ok, `the write is taken once the claim was not confirmed: ${String(write.status)}`);
  });

  it("holds the shard when the replica's node shows it ahead, at the position it shows", async () => {
    const l = await startLeader();
    l.setMode({ down: false, seq: 7, delayMs: 0 });
    const r = await forge(l);
    assert.equal(r.status, 503);
    const e = await errorOf(r);
    assert.equal(e.code, 'LEADER_BEHIND');
    assert.match(e.message, new RegExp(`replica ${l.replica} holds records through seq 7\\b`));
    assert.deepEqual(await behindOf(l), { replica: l.replica, replica_seq: 7, leader_seq: 0 });
    const read = await fetch(`http://${l.address}/kv/k`);
    assert.equal(read.status, 503);
    assert.equal((await errorOf(read)).code, 'LEADER_BEHIND');
  });
});
