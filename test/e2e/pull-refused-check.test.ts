/**
 * A replica whose leader refuses its pull as a node with another config does (409
 * CONFIG_MISMATCH): the replica's node asks that leader for its config at once rather than at its
 * next peer check (up to 2 s later), so it refuses the disputed slots itself sooner. The pull runs
 * on a shard worker; the refusal reaches the main thread's peer check as a `pull-refused` message.
 *
 * Node A leads shard 0 (slots 0-8191) and replicates shard 1, whose leader is a twin. The twin holds
 * A's pulls unanswered (a long poll with nothing new) and answers `/cluster` 404 (to A's peer
 * check a node that does not answer, which disputes nothing) until the test refuses the held pulls;
 * from then on it refuses every pull and answers `/cluster` with a config that gives every slot to
 * the twin (A then disputes 0-8191 with it).
 *
 * The other way round: A, as shard 0's leader, refuses a pull that its replica (the twin's address)
 * sends with another config, and asks the twin for its config at once too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkedSince, disputedSlots, until } from '../helpers/dispute-watch.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

/** EARLY_BY_MS is how much sooner than the next peer check (every 2 s) the early check must come. */
const EARLY_BY_MS = 500;

const REFUSAL = {
  error: {
    code: 'CONFIG_MISMATCH',
    message:
      'the sender routes with config mine, this node with other: give every node the same sharding.toml',
  },
};

describe('a replica whose pull the leader refuses with CONFIG_MISMATCH', () => {
  const running: ServerProcess[] = [];
  let dir = '';
  let a = '';
  let leader: HandlerTwin;
  /** clusterAt holds when each of A's peer checks reached the twin. */
  const clusterAt: number[] = [];
  /** held are A's pulls the twin has not answered yet. */
  const held: ServerResponse[] = [];
  /** refusing: the twin refuses pulls and disagrees about the config. */
  let refusing = false;

  const refuse = (res: ServerResponse): void => {
    res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify(REFUSAL));
  };

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/cluster') {
      clusterAt.push(Date.now());
      if (refusing)
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: 'other',
            shards: [{ slots: [0, 16383], leader: { address: leader.address } }],
          }),
        );
      else res.writeHead(404).end();
      return;
    }
    if (req.url?.startsWith('/_repl/pull?') === true) {
      if (refusing) refuse(res);
      else held.push(res);
      return;
    }
    res.writeHead(404).end();
  };

  /** disputed reads A's `distkv_disputed_slots`. */
  const disputed = (): Promise<number | undefined> => disputedSlots(a);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-pull-refused-check-'));
    leader = await startHandlerTwin((req, res) => {
      req.resume();
      req.on('end', () => {
        answer(req, res);
      });
    });
    a = await freeNodeAddress();
    // A long poll (wait_ms + 3 s before A gives it up) outlasts the test: A's pull stays held.
    const config = writeConfig(
      dir,
      [
        { address: a, replicas: [leader.address], slots: '0-8191' },
        { address: leader.address, replicas: [a], slots: '8192-16383' },
      ],
      '[replication]\npull_wait_ms = 30000\n',
    );
    await startConfigNode(config, a, join(dir, 'a-data'), running);
  });

  after(async () => {
    for (const p of running) await p.stop();
    await leader.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks the leader for its config at once', async (t) => {
    await until(() => held.length > 0, "A's replica pulled from the twin");
    assert.equal(await disputed(), 0, 'A disputes nothing');
    // Refuse right after a peer check: A's next one comes PEER_CHECK_MS (2 s) after it.
    const from = Date.now();
    let synced: number | undefined;
    await until(() => (synced = clusterAt.find((t) => t >= from)) !== undefined, 'A checked its peers');
    // Until A has read the twin's answer, that check is in flight and an early one is not started.
    await until(() => checkedSince(a, leader.address, synced!), "A read the twin's answer");
    refusing = true;
    const refusedAt = Date.now();
    for (const res of held.splice(0)) refuse(res);
    await until(async () => (await disputed()) === 8192, 'A came to dispute slots 0-8191');
    const next = clusterAt.find((t) => t > synced!);
    assert.ok(next !== undefined);
    t.diagnostic(
      `asked ${next - refusedAt} ms after the refusal, ${next - synced!} ms after the last peer check`,
    );
    assert.ok(
      next - synced! < 2000 - EARLY_BY_MS,
      `A asked the leader ${next - refusedAt} ms after it refused the pull, ${next - synced!} ms after its last peer check: not early`,
    );
  });
  it('as a leader, asks a replica whose pull it refuses with CONFIG_MISMATCH for its config at once', async (t) => {
    // The twin holds A's pulls again (a refused one would make A ask it early on its own), and
    // A's last early check of it is more than EARLY_CHECK_MS (1 s) behind.
    refusing = false;
    await sleep(1100);
    const from = Date.now();
    let synced: number | undefined;
    await until(() => (synced = clusterAt.find((t) => t >= from)) !== undefined, 'A checked its peers');
    await until(() => checkedSince(a, leader.address, synced!), "A read the twin's answer");
    const refusedAt = Date.now();
    const r = await fetch(
      `http://${a}/_repl/pull?shard=0&after=0&wait_ms=0&replica=${leader.address}&config=another`,
    );
    assert.equal(r.status, 409);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'CONFIG_MISMATCH');
    await until(() => clusterAt.some((t) => t > synced!), 'A checked the twin again');
    const next = clusterAt.find((t) => t > synced!)!;
    t.diagnostic(
      `asked ${next - refusedAt} ms after the refusal, ${next - synced!} ms after the last peer check`,
    );
    assert.ok(
      next - synced! < 2000 - EARLY_BY_MS,
      `A asked the replica's node ${next - refusedAt} ms after refusing its pull, ${next - synced!} ms after its last peer check: not early`,
    );
  });
});
