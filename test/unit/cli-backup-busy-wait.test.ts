/**
 * How `distkv backup` and `distkv restore` wait, or do not, on a refusal (src/cli/refusal-wait.ts):
 *
 * - `--wait-ms 0` asks for no wait: a busy leader's refusal failed the backup saying the leader was
 *   "still busy after 0 s", and a restore's refused write said the shard "had no leader that
 *   answered for 0 s". Each now names the refusal plainly, where it came from, and that
 *   `--wait-ms N` waits for it.
 * - A leader cut off from its peers still believes it leads; busy (503 REPLICATION_BUSY), it was
 *   asked again for the whole of --wait-ms while the cluster's map named another leader. The
 *   backup now looks for the newest map now and then while it waits, and moves to the leader it
 *   names, saying so once.
 *
 * Twins (node:http) stand in for the nodes; every command is bounded by its --wait-ms and the
 * test's timeout, and every twin is stopped at the end.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import type { BatchResult } from '../../src/client/types.js';
import { RestoreWriter } from '../../src/cli/restore-writer.js';
import { DistkvError } from '../../src/errors.js';
import { BUSY_MAP_LOOK_MS } from '../../src/cli/refusal-wait.js';
import { errorBody } from '../../src/http/respond.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { freePorts } from '../helpers/ports.js';
import { spawnCli } from '../helpers/server-process.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const dir = tempDir(after);
const twins: HandlerTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

const KEYS = 5;
/** TEST_MS bounds each test (its commands are bounded by their --wait-ms). */
const TEST_MS = 60_000;

/** refuseBusy answers `res` as a leader with no snapshot slot left (repl-admission.ts): 503 REPLICATION_BUSY, Retry-After `retryAfterS`. */
function refuseBusy(res: ServerResponse, retryAfterS: number): void {
  const err = new DistkvError(
    'REPLICATION_BUSY',
    'shard 0 already has 2 snapshot streams open at this node (the most it serves at once is 2); retry after Retry-After',
  );
  res
    .writeHead(503, { 'content-type': 'application/json', 'retry-after': String(retryAfterS) })
    .end(errorBody(err));
}

/**
 * Leader is a twin leader of shard 0: `snapshots` counts its snapshot requests, `firstAt` is when
 * the first came (performance.now(), undefined before). A busy one refuses each; another serves
 * KEYS keys at seq KEYS.
 */
interface Leader {
  twin: HandlerTwin;
  snapshots: () => number;
  firstAt: () => number | undefined;
}

/**
 * startLeader starts a twin that believes it leads shard 0 in live map `version` (its /cluster),
 * naming `replicas()` its replicas, and refuses its snapshots as busy when `busy`, with Retry-After
 * `retryAfterS`.
 */
async function startLeader(
  busy: boolean,
  version: number,
  replicas: () => string[],
  retryAfterS = 1,
): Promise<Leader> {
  let snapshots = 0;
  let firstAt: number | undefined;
  const twin: HandlerTwin = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      if (req.url === '/cluster') {
        const view = JSON.parse(oneShardView(twin.address, version, KEYS)) as {
          shards: { replicas: unknown[] }[];
        };
        view.shards[0]!.replicas = replicas().map((address) => ({ address }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
        return;
      }
      if (!(req.url ?? '').startsWith('/_repl/snapshot')) {
        res.writeHead(404).end();
        return;
      }
      snapshots++;
      firstAt ??= performance.now();
      if (busy) {
        refuseBusy(res, retryAfterS);
        return;
      }
      const entries = Array.from({ length: KEYS }, (_, i) => ({
        key: Buffer.from(`k${i}`),
        value: Buffer.from(`v${i}`),
        seq: i + 1,
      }));
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(snapshotStream(KEYS, entries));
    });
  });
  twins.push(twin);
  return { twin, snapshots: () => snapshots, firstAt: () => firstAt };
}

describe('backup and restore with --wait-ms 0', { concurrency: true }, () => {
  it(
    'backup fails at once on a busy leader, naming the refusal and --wait-ms (it said "still busy after 0 s")',
    { timeout: TEST_MS },
    async () => {
      const leader = await startLeader(true, 1, () => []);
      const L = leader.twin.address;
      const r = await spawnCli(['backup', join(dir, 'zero.dkvb'), '--url', L, '--wait-ms', '0']).result;
      // From the refusal to the command's end: its start (a new Node process, seconds on a loaded
      // machine) is not what --wait-ms 0 bounds.
      const tookMs = performance.now() - (leader.firstAt() ?? Number.NaN);
      assert.notEqual(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`REPLICATION_BUSY at ${L}: its leader is busy`));
      assert.match(r.stderr, /--wait-ms 0 waits for nothing: --wait-ms N waits up to N ms for it/);
      assert.doesNotMatch(r.stderr, /after 0 s|for 0 s|asking it again|looking for/, r.stderr);
      assert.equal(leader.snapshots(), 1, 'asked once');
      assert.ok(tookMs < 10_000, `took ${Math.round(tookMs)} ms from the refusal`);
    },
  );

  it('restore stops at the first refused write, naming it and --wait-ms (it said "no leader that answered for 0 s")', async () => {
    const L = '10.0.0.1:8080';
    const map = new ShardMap([
      { name: 'shard-0', idx: 0, address: L, replicas: [], slots: { first: 0, last: 16383 } },
    ]);
    const refused = new DistkvError(
      'SHARD_UNREACHABLE',
      `shard 0: ${L} did not answer (connect ECONNREFUSED)`,
    );
    let batches = 0;
    const fake = {
      topology: () => Promise.resolve(map),
      reload: () => Promise.resolve(),
      batch: (ops: readonly unknown[]): Promise<BatchResult[]> => {
        batches++;
        return Promise.resolve(ops.map(() => ({ ok: false as const, error: refused })));
      },
    };
    const w = new RestoreWriter(fake as unknown as DistkvClient, () => undefined, 0);
    await w.add({ key: Buffer.from('a'), text: 'a', value: Buffer.from('1'), expiresAtMs: 0 });
    await w.add({ key: Buffer.from('b'), text: 'b', value: Buffer.from('2'), expiresAtMs: 0 });
    await assert.rejects(w.flush(), (err: unknown) => {
      assert.ok(err instanceof DistkvError);
      assert.equal(err.code, 'SHARD_UNREACHABLE');
      assert.match(
        err.message,
        new RegExp(
          `SHARD_UNREACHABLE at ${L}: its leader does not answer \\(.*ECONNREFUSED\\) \\(and 1 more key of its group\\)\\)`,
        ),
      );
      assert.match(err.message, /--wait-ms 0 waits for nothing: --wait-ms N waits up to N ms for it/);
      assert.doesNotMatch(err.message, /for 0 s|had no leader/);
      return true;
    });
    assert.equal(batches, 1, 'written once, not again');
  });

  it(
    'restore stops at once when the leader it asks first does not answer, naming it and --wait-ms',
    { timeout: TEST_MS },
    async () => {
      // O names L shard 0's leader; nothing listens at L.
      const [port] = await freePorts(1);
      const L = `127.0.0.1:${port}`;
      const node: HandlerTwin = await startHandlerTwin((req, res) => {
        req.resume().on('end', () => {
          if (req.url !== '/cluster') {
            res.writeHead(404).end();
            return;
          }
          const view = JSON.parse(oneShardView(L)) as Record<string, unknown>;
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ ...view, node: node.address, hosted_nodes: [node.address] }));
        });
      });
      twins.push(node);
      const file = join(dir, 'restore-zero.dkvb');
      writeOneShardBackup(file, [{ key: Buffer.from('k'), value: Buffer.from('v'), expiresAtMs: 0 }]);
      const args = ['restore', file, '--url', node.address, '--wait-ms', '0', '--refused-wait-ms', '0'];
      const r = await spawnCli(args).result;
      assert.notEqual(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`SHARD_UNREACHABLE at ${L}: its leader does not answer`));
      assert.match(r.stderr, /--wait-ms 0 waits for nothing: --wait-ms N waits up to N ms for it/);
      assert.doesNotMatch(r.stderr, /for 0 s|had no leader/, r.stderr);
    },
  );
});

describe('backup whose busy leader the map no longer names', () => {
  it(
    'looks for the newest map while it waits, and copies from the leader it names, saying so once',
    { timeout: TEST_MS },
    async () => {
      // S was shard 0's leader (map 1) and still believes it leads, busy for good; N, its replica,
      // leads it in map 2, which S, cut off from its peers, never learned.
      let nAddress = '';
      const stale = await startLeader(true, 1, () => [nAddress]);
      const S = stale.twin.address;
      const next = await startLeader(false, 2, () => [S]);
      nAddress = next.twin.address;
      const N = nAddress;
      const waitMs = 15_000;
      const r = await spawnCli(['backup', join(dir, 'moved.dkvb'), '--url', S, '--wait-ms', String(waitMs)])
        .result;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /shard 0 shard-0: 5 keys at seq 5/);
      assert.match(
        r.stderr,
        new RegExp(
          `REPLICATION_BUSY at ${S}: its leader is busy .*; asking it again every 1 s \\(its Retry-After\\)`,
        ),
      );
      const moved = r.stderr.split('\n').filter((l) => l.includes(`the map now names ${N} its leader`));
      assert.equal(moved.length, 1, r.stderr);
      assert.match(
        moved[0]!,
        new RegExp(`REPLICATION_BUSY at ${S}: the map now names ${N} its leader; asking ${N} instead`),
      );
      assert.equal(next.snapshots(), 1);
      // From S's first refusal to N's snapshot, as the twins saw them: the command's start (a new
      // Node process, seconds on a loaded machine) counted in it before, and is not part of its wait.
      const movedMs = (next.firstAt() ?? Number.NaN) - (stale.firstAt() ?? Number.NaN);
      assert.ok(
        movedMs < waitMs,
        `moved ${Math.round(movedMs)} ms after the first refusal: the whole --wait-ms`,
      );
    },
  );

  it(
    'looks for the newest map every BUSY_MAP_LOOK_MS of a long Retry-After, not only once it is over',
    { timeout: TEST_MS },
    async () => {
      // S asks for 20 s (a proxy in front of it, or a date some seconds away): the wait was one
      // sleep of the whole Retry-After before the first look for a newer map.
      const retryAfterS = 20;
      let nAddress = '';
      const stale = await startLeader(true, 1, () => [nAddress], retryAfterS);
      const S = stale.twin.address;
      const next = await startLeader(false, 2, () => [S]);
      nAddress = next.twin.address;
      const r = await spawnCli(['backup', join(dir, 'long.dkvb'), '--url', S, '--wait-ms', '30000']).result;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`the map now names ${nAddress} its leader`));
      assert.equal(next.snapshots(), 1);
      // From S's first refusal to N's snapshot, as the twins saw them (not the command's start).
      const movedMs = (next.firstAt() ?? Number.NaN) - (stale.firstAt() ?? Number.NaN);
      assert.ok(
        movedMs < BUSY_MAP_LOOK_MS + 8_000,
        `moved ${Math.round(movedMs)} ms after the first refusal: the map was looked at only after the whole ${retryAfterS} s Retry-After`,
      );
    },
  );
});
