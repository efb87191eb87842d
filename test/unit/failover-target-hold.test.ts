/**
 * `distkv failover --force` against twins of the nodes, with a target that is still following its
 * old leader (the leader does not answer the command, but still reaches its replica): the target's
 * position grows after the command read it. The new epoch must start after the last record the
 * target holds when it is promoted, so the command holds the target's following first and reads
 * its position there (docs/failover.md, "Forced failover"); a map starting the epoch lower labels
 * the old leader's records as the new leader's, and after a restart of the target its pulls send a
 * replica holding the same records a fork that is not one (test/unit/promotion-epoch-start.test.ts).
 */
import { nextEpoch } from '../../src/routing/epoch-numbers.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveMap } from '../../src/routing/live-map.js';
import { failoverOfS0 } from '../helpers/failover-twins.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';
import { closedAddress } from '../helpers/ports.js';

/** FollowingTwin answers like a replica that applies 2 more records of its leader between any two calls, unless held. */
class FollowingTwin {
  address = '';
  position = 10;
  held = false;
  /** published are the maps posted here, each with the twin's position when it arrived. */
  readonly published: { map: LiveMap; position: number }[] = [];
  private twin: TwinServer | undefined;
  private readonly map: () => LiveMap;

  constructor(map: () => LiveMap) {
    this.map = map;
  }

  get calls(): string[] {
    return this.twin?.calls ?? [];
  }

  async start(): Promise<void> {
    this.twin = await startTwinServer((url, body) => {
      const doc = this.answer(url, body);
      // The follower goes on applying its old leader's records unless it is held.
      if (!this.held) this.position += 2;
      return doc;
    });
    this.address = this.twin.address;
  }

  async stop(): Promise<void> {
    await this.twin?.stop();
  }

  private answer(url: string, body: string): unknown {
    if (url === '/cluster')
      return {
        map: this.map(),
        shards: [{ idx: 0, replicas: [{ address: this.address, local: true, acked_seq: this.position }] }],
      };
    if (url.startsWith('/_admin/fence')) {
      this.held = url.includes('on=1');
      return { shard: 0, epoch: 1, fenced: this.held, role: 'replica', last_seq: this.position };
    }
    if (url.startsWith('/_admin/map?')) {
      const map = JSON.parse(body) as LiveMap;
      this.published.push({ map, position: this.position });
      return { adopted: true, map };
    }
    return undefined;
  }
}

describe('distkv failover --force with a target still following', () => {
  let map: LiveMap;
  let target: FollowingTwin;

  before(async () => {
    target = new FollowingTwin(() => map);
    await target.start();
    const leader = await closedAddress();
    map = {
      version: 3,
      shards: [
        {
          idx: 0,
          name: 's0',
          leader,
          replicas: [target.address],
          epoch: 1,
          history: [{ epoch: 1, firstSeq: 1 }],
        },
      ],
    };
  });

  after(async () => {
    await target.stop();
  });

  it('starts the new epoch after the last record the promoted target holds', async () => {
    const r = await failoverOfS0(target.address, true);
    assert.equal(r.to, target.address);
    const [got] = target.published;
    assert.ok(got !== undefined, target.calls.join('\n'));
    const history = got.map.shards[0]!.history;
    assert.deepEqual(
      history[history.length - 1],
      { epoch: r.epoch, firstSeq: got.position + 1 },
      `the target held seq ${got.position} when the map promoted it (calls: ${target.calls.join(', ')})`,
    );
    assert.equal(r.targetSeq, got.position);
    assert.equal(r.epoch, nextEpoch(map.shards[0]!, target.address), 'the epoch names the target');
    assert.ok(
      target.calls.some((c) => /^POST \/_admin\/fence\?shard=0&on=1&ms=\d+&by=failover-[\w-]+$/.test(c)),
      'the target is held, with a time limit, by this failover',
    );
  });
});
