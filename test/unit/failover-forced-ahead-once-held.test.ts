/**
 * `distkv failover --force` without --to promotes the replica that is furthest ahead once every
 * replica that answers is held. Records can reach a replica after the command read the positions
 * and before its hold (a paused leader's last pulls): the command then refused with "nothing was
 * changed, run it again", and under load the next run could meet the same (bench:failover ended on
 * it). Held, no replica moves, so the most advanced is known for sure: it is the one to promote.
 * With --to the operator chose: a replica held ahead of it still refuses the failover.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';
import { closedAddress } from '../helpers/ports.js';

/** ReplicaTwin is a replica of shard 0 that reads `seen` in /cluster and `held` once its hold is placed. */
interface ReplicaTwin {
  server: TwinServer;
  seen: number;
  held: number;
  resyncing: boolean;
  published: LiveMap[];
}

describe('distkv failover --force: the replica held furthest ahead', () => {
  let map: LiveMap;
  const twins: ReplicaTwin[] = [];

  const startReplica = async (): Promise<ReplicaTwin> => {
    const twin: ReplicaTwin = {
      server: undefined as unknown as TwinServer,
      seen: 0,
      held: 0,
      resyncing: false,
      published: [],
    };
    twin.server = await startTwinServer((url, body) => {
      const address = twin.server.address;
      if (url === '/cluster')
        return {
          map,
          shards: [
            {
              idx: 0,
              replicas: [
                {
                  address,
                  local: true,
                  acked_seq: twin.seen,
                  ...(twin.resyncing ? { state: 'resyncing' } : {}),
                },
              ],
            },
          ],
        };
      if (url.startsWith('/_admin/fence'))
        return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: twin.held };
      if (url.startsWith('/_admin/map?')) {
        const posted = JSON.parse(body) as LiveMap;
        twin.published.push(posted);
        return { adopted: true, map: posted };
      }
      return undefined;
    });
    return twin;
  };

  before(async () => {
    twins.push(await startReplica(), await startReplica());
    const leader = await closedAddress();
    map = {
      version: 3,
      shards: [
        {
          idx: 0,
          name: 's0',
          leader,
          replicas: twins.map((t) => t.server.address),
          epoch: 1,
          history: [{ epoch: 1, firstSeq: 1 }],
        },
      ],
    };
  });

  beforeEach(() => {
    // The first replica reads ahead (10 against 9), so the command picks it; by the time the
    // second is held, the leader's last records reached it (12).
    const [a, b] = twins;
    Object.assign(a!, { seen: 10, held: 10, resyncing: false, published: [] });
    Object.assign(b!, { seen: 9, held: 12, resyncing: false, published: [] });
  });

  after(async () => {
    for (const t of twins) await t.server.stop();
  });

  const run = (to?: string) =>
    failover({
      urls: [`http://${twins[0]!.server.address}`],
      shard: 's0',
      force: true,
      token: '',
      timeoutMs: 5000,
      ...(to === undefined ? {} : { to }),
    });

  it('without --to, promotes the replica that is furthest ahead once held', async () => {
    const [a, b] = twins;
    const r = await run();
    assert.equal(r.to, b!.server.address, 'the replica held at seq 12 is promoted, not the one at 10');
    assert.equal(r.targetSeq, 12);
    const posted = a!.published[0];
    assert.ok(posted !== undefined, 'the other replica took the new map');
    assert.equal(posted.shards[0]!.leader, b!.server.address);
    const history = posted.shards[0]!.history;
    assert.equal(history[history.length - 1]!.firstSeq, 13, 'the new epoch starts after seq 12');
  });

  it('with --to naming the replica behind, still refuses (the operator chose it)', async () => {
    const [a] = twins;
    await assert.rejects(run(a!.server.address), (err: unknown) => {
      assert.ok(err instanceof DistkvError);
      assert.match(err.message, /holds seq 12 but .* holds seq 10 once held/);
      return true;
    });
    assert.equal(twins[1]!.published.length + a!.published.length, 0, 'no map was published');
  });

  it('does not pick a replica that is resyncing (refuses as before)', async () => {
    twins[1]!.resyncing = true;
    await assert.rejects(run(), /holds seq 12 but .* holds seq 10 once held/);
  });
});
