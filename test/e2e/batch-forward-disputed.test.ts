/**
 * A batch whose forwarded part the owner refuses with SLOTS_DISPUTED, at a node that has not seen
 * the dispute itself (a node learns of one from the peers it reaches, docs/operations.md):
 *  - a plain batch applies the node's own operations and answers each of the owner's 503
 *    SLOTS_DISPUTED (nothing of that part applied), a batch with conditions is refused whole, with
 *    Retry-After as every other refusal of a disputed slot;
 *  - the refusal makes the node ask that owner for its config at once rather than at its next
 *    peer check (up to 2 s later), so it refuses the disputed slots itself sooner, and its
 *    /metrics show them (`distkv_disputed_slots`, `distkv_peer_disputed_slots`), the owner up
 *    (`distkv_peer_up`).
 *
 * Node A leads shard 0 (slots 0-8191); shard 1's owner is a twin that refuses every forwarded
 * batch part as a node that sees a dispute does. Its `/cluster` answers 404 (to A's peer check a
 * node that does not answer, which disputes nothing) until `disagree` is set, then a config that
 * gives every slot to the twin: A then disputes 0-8191 with it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeNodeAddress } from '../helpers/resp.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

/** mine is a key of shard 0 (A's); theirs, other, a tagged pair of keys of shard 1 (the twin's). */
const mine = keyInSlots(0, 8191);
const theirs = keyInSlots(8192, 16383);
const tagged = keyInSlots(8192, 16383, (i) => `{t${i}}`);

const REFUSAL = {
  code: 'SLOTS_DISPUTED',
  message:
    'slot 9000 is disputed: node 127.0.0.9:1 routes with config other. Not executed: retry once every node has the same sharding.toml',
};

/** EARLY_BY_MS is how much sooner than the next peer check (every 2 s) the early check must come. */
const EARLY_BY_MS = 500;

describe('a batch whose forwarded part the owner refuses as disputed', () => {
  const running: ServerProcess[] = [];
  let dir = '';
  let a = '';
  let owner: HandlerTwin;
  /** clusterAt holds when each of A's peer checks reached the twin. */
  const clusterAt: number[] = [];
  /** refusedAt is when the twin last refused a batch part. */
  let refusedAt = 0;
  let disagree = false;
  /** disagreeOnRefusal makes the twin's next refusal also set `disagree`. */
  let disagreeOnRefusal = false;

  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const json = (status: number, doc: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    };
    if (req.url === '/cluster') {
      clusterAt.push(Date.now());
      if (!disagree) res.writeHead(404).end();
      else
        json(200, {
          version: 'other',
          shards: [{ slots: [0, 16383], leader: { address: owner.address } }],
        });
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/kv/_batch?') === true) {
      refusedAt = Date.now();
      if (disagreeOnRefusal) disagree = true;
      const ops = JSON.parse(body) as { if_match?: string; if_none_match?: string }[];
      // As a node that sees the dispute answers: a batch with conditions whole, others per op.
      if (ops.some((o) => o.if_match !== undefined || o.if_none_match !== undefined))
        json(503, { error: REFUSAL });
      else json(200, { results: ops.map(() => ({ ok: false, error: REFUSAL })), errors: ops.length });
      return;
    }
    res.writeHead(404).end();
  };

  /** metric reads one sample of A's /metrics (undefined when absent). */
  const metric = async (name: string, labels: string): Promise<number | undefined> => {
    const text = await (await fetch(`http://${a}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  const batch = (ops: unknown[]): Promise<Response> =>
    fetch(`http://${a}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-batch-forward-disputed-'));
    owner = await startHandlerTwin((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        answer(req, res, body);
      });
    });
    a = await freeNodeAddress();
    const config = writeConfig(dir, [
      { address: a, slots: '0-8191' },
      { address: owner.address, slots: '8192-16383' },
    ]);
    await startConfigNode(config, a, join(dir, 'a-data'), running);
  });

  after(async () => {
    for (const p of running) await p.stop();
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies the node's own operations and answers each of the owner's SLOTS_DISPUTED", async () => {
    assert.equal(await metric('distkv_disputed_slots', `node="${a}"`), 0, 'A disputes nothing');
    const r = await batch([
      { op: 'set', key: mine, value: 'mine' },
      { op: 'set', key: theirs, value: 'theirs' },
      { op: 'delete', key: `${tagged}:2` },
    ]);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { results: { ok: boolean; error?: { code: string } }[]; errors: number };
    assert.deepEqual(
      body.results.map((x) => (x.ok ? 'ok' : x.error?.code)),
      ['ok', 'SLOTS_DISPUTED', 'SLOTS_DISPUTED'],
    );
    assert.equal(body.errors, 2);
    const got = await fetch(`http://${a}/kv/${mine}`);
    assert.equal(await got.text(), 'mine', "A's own operation was applied");
  });

  it('refuses a batch with conditions whole, 503 SLOTS_DISPUTED with Retry-After', async () => {
    const r = await batch([
      { op: 'set', key: `${tagged}:1`, value: 'x', if_none_match: '*' },
      { op: 'set', key: `${tagged}:2`, value: 'y' },
    ]);
    const body = (await r.json()) as { error?: { code: string; message: string } };
    assert.equal(r.status, 503, JSON.stringify(body));
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(body.error?.code, 'SLOTS_DISPUTED');
    assert.equal(body.error.message, REFUSAL.message);
  });

  it('asks the refusing owner for its config at once, and then refuses and reports the slots itself', async () => {
    // Wait for a peer check from now on and well after the earlier refusals (so none of their
    // early checks, and none bounded by them): A's next one comes PEER_CHECK_MS (2 s) after it. A
    // check seen before now could be seconds old, the batch then sent near or after the next one.
    const deadline = Date.now() + 30_000;
    const after = Math.max(Date.now(), refusedAt + 1100);
    let synced: number | undefined;
    while ((synced = clusterAt.find((t) => t >= after)) === undefined) {
      assert.ok(Date.now() < deadline, 'A checked its peers within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    disagreeOnRefusal = true;
    const sent = Date.now();
    const r = await batch([{ op: 'set', key: theirs, value: 'x' }]);
    assert.equal(r.status, 200);
    while ((await metric('distkv_disputed_slots', `node="${a}"`)) !== 8192) {
      assert.ok(Date.now() < deadline, 'A came to dispute slots 0-8191 within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const next = clusterAt.find((t) => t > synced);
    assert.ok(next !== undefined);
    assert.ok(
      next - synced < 2000 - EARLY_BY_MS,
      `A asked the owner ${next - sent} ms after the batch was sent, ${next - synced} ms after its last peer check: not early`,
    );
    assert.equal(await metric('distkv_peer_disputed_slots', `node="${a}",peer="${owner.address}"`), 8192);
    // The owner answers (with another config): it is up, whatever it disputes.
    assert.equal(await metric('distkv_peer_up', `node="${a}",peer="${owner.address}"`), 1);
    const own = await fetch(`http://${a}/kv/${mine}`);
    assert.equal(own.status, 503, 'A now refuses its own disputed slots');
    assert.equal(((await own.json()) as { error: { code: string } }).error.code, 'SLOTS_DISPUTED');
  });
});
