/**
 * `--proxy` and an owner that refuses a relayed single-key request as a node in a dispute does
 * (409 CONFIG_MISMATCH, 503 SLOTS_DISPUTED), at a node that has not seen the dispute itself: the
 * refusal is relayed as it came, and makes the node ask that owner for its config at once rather
 * than at its next peer check (up to 2 s later), so it refuses the disputed slots itself sooner.
 *
 * Node A (`--proxy`) leads shard 0 (slots 0-8191); shard 1's owner is a twin that refuses every
 * relayed request. Its `/cluster` answers 404 (to A's peer check a node that does not answer,
 * which disputes nothing) until `disagree` is set, then a config that gives every slot to the
 * twin (A then disputes 0-8191 with it); once `agree` is set, A's own config (the dispute ends).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { disputedSlots, until } from '../helpers/dispute-watch.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

/** theirs is a key of shard 1 (the twin's). */
const theirs = keyInSlots(8192, 16383);

/** REFUSALS are the owner's answers that mean it sees a dispute (the status and error code). */
const REFUSALS = [
  { status: 409, code: 'CONFIG_MISMATCH', message: 'node routes with config other, the request with mine' },
  { status: 503, code: 'SLOTS_DISPUTED', message: 'slot 9000 is disputed: retry once every node agrees' },
];

/** EARLY_BY_MS is how much sooner than the next peer check (every 2 s) the early check must come. */
const EARLY_BY_MS = 500;

describe('--proxy and an owner that refuses the relayed request as disputed', () => {
  const running: ServerProcess[] = [];
  let dir = '';
  let a = '';
  /** aVersion is A's config hash (what the twin answers with while `agree`). */
  let aVersion = '';
  let owner: HandlerTwin;
  /** clusterAt holds when each of A's peer checks reached the twin. */
  const clusterAt: number[] = [];
  /** refusedAt is when the twin last refused a relayed request. */
  let refusedAt = 0;
  let refusal = REFUSALS[0]!;
  let disagree = false;
  let agree = false;
  /** disagreeOnRefusal makes the twin's next refusal also set `disagree`. */
  let disagreeOnRefusal = false;

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const json = (status: number, doc: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    };
    if (req.url === '/cluster') {
      clusterAt.push(Date.now());
      if (agree) json(200, { version: aVersion });
      else if (disagree)
        json(200, { version: 'other', shards: [{ slots: [0, 16383], leader: { address: owner.address } }] });
      else res.writeHead(404).end();
      return;
    }
    if (req.url?.startsWith('/kv/') === true) {
      refusedAt = Date.now();
      if (disagreeOnRefusal) {
        disagree = true;
        agree = false;
        disagreeOnRefusal = false;
      }
      json(refusal.status, { error: { code: refusal.code, message: refusal.message } });
      return;
    }
    res.writeHead(404).end();
  };

  /** disputed reads A's `distkv_disputed_slots`. */
  const disputed = (): Promise<number | undefined> => disputedSlots(a);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-proxy-disputed-'));
    owner = await startHandlerTwin((req, res) => {
      req.resume();
      req.on('end', () => {
        answer(req, res);
      });
    });
    a = await freeNodeAddress();
    const config = writeConfig(dir, [
      { address: a, slots: '0-8191' },
      { address: owner.address, slots: '8192-16383' },
    ]);
    await startConfigNode(config, a, join(dir, 'a-data'), running, ['--proxy']);
    aVersion = ((await (await fetch(`http://${a}/cluster`)).json()) as { version: string }).version;
  });

  after(async () => {
    for (const p of running) await p.stop();
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [i, r] of REFUSALS.entries())
    it(`relays the owner's ${r.status} ${r.code} and asks it for its config at once`, async () => {
      if (i > 0) {
        // The previous case left A disputing: the twin agrees again until A serves its slots.
        agree = true;
        await until(async () => (await disputed()) === 0, 'A stopped disputing once the twin agreed');
      }
      assert.equal(await disputed(), 0, 'A disputes nothing');
      // Wait for a peer check from now on and well after any earlier refusal (so no early check,
      // nor the bound on them, is in the way): A's next one comes PEER_CHECK_MS (2 s) after it.
      const after = Math.max(Date.now(), refusedAt + 1100);
      let synced: number | undefined;
      await until(() => (synced = clusterAt.find((t) => t >= after)) !== undefined, 'A checked its peers');
      refusal = r;
      disagreeOnRefusal = true;
      const sent = Date.now();
      const got = await fetch(`http://${a}/kv/${theirs}`);
      assert.equal(got.status, r.status, 'the refusal is relayed as it came');
      assert.equal(((await got.json()) as { error: { code: string } }).error.code, r.code);
      await until(async () => (await disputed()) === 8192, 'A came to dispute slots 0-8191');
      const next = clusterAt.find((t) => t > synced!);
      assert.ok(next !== undefined);
      assert.ok(
        next - synced! < 2000 - EARLY_BY_MS,
        `A asked the owner ${next - sent} ms after the request was sent, ${next - synced!} ms after its last peer check: not early`,
      );
    });
});
