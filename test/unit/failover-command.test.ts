/**
 * `distkv failover` against twins of the nodes (node:http servers answering /cluster, /_admin/fence
 * and /_admin/map as a node does): when the map the target holds afterwards does not name the
 * target (another change stored first, as etcd orders maps), the command fails with MAP_CHANGED and
 * releases the writes it held, instead of reporting a failover that did not happen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { startTwinServer, type TwinServer, TwinStatus } from '../helpers/twin-server.js';

/** NodeTwin answers like one member of a one-shard cluster and records the calls it gets. */
class NodeTwin {
  address = '';
  private twin: TwinServer | undefined;

  private readonly map: () => LiveMap;
  private readonly ackedSeq: number;
  private readonly afterPublish: (proposed: LiveMap) => LiveMap;

  constructor(map: () => LiveMap, ackedSeq: number, afterPublish: (proposed: LiveMap) => LiveMap) {
    this.map = map;
    this.ackedSeq = ackedSeq;
    this.afterPublish = afterPublish;
  }

  get calls(): string[] {
    return this.twin?.calls ?? [];
  }

  async start(): Promise<void> {
    this.twin = await startTwinServer((url, body) => {
      if (url === '/cluster')
        return {
          map: this.map(),
          shards: [{ idx: 0, replicas: [{ address: this.address, local: true, acked_seq: this.ackedSeq }] }],
        };
      if (url.startsWith('/_admin/fence')) return { shard: 0, epoch: 1, last_seq: 10 };
      if (url.startsWith('/_admin/map?'))
        return { adopted: false, map: this.afterPublish(JSON.parse(body) as LiveMap) };
      return undefined;
    });
    this.address = this.twin.address;
  }

  async stop(): Promise<void> {
    await this.twin?.stop();
  }
}

/** plannedTo runs a planned failover of s0 to `to`, asking the node at `via` first. */
function plannedTo(via: string, to: string): ReturnType<typeof failover> {
  return failover({ urls: [`http://${via}`], shard: 's0', to, force: false, token: '', timeoutMs: 5000 });
}

describe('distkv failover', () => {
  const nodes: NodeTwin[] = [];
  let map: LiveMap;
  /** won is the map another change stored first: the third node leads, version 2. */
  let won: LiveMap;

  before(async () => {
    for (let i = 0; i < 3; i++)
      nodes.push(
        new NodeTwin(
          () => map,
          10,
          () => won,
        ),
      );
    for (const n of nodes) await n.start();
    const [a, b, c] = nodes.map((n) => n.address) as [string, string, string];
    const shard = {
      idx: 0,
      name: 's0',
      leader: a,
      replicas: [b, c],
      epoch: 1,
      history: [{ epoch: 1, firstSeq: 1 }],
    };
    map = { version: 1, shards: [shard] };
    won = {
      version: 2,
      shards: [
        {
          ...shard,
          leader: c,
          replicas: [a, b],
          epoch: 7,
          history: [...shard.history, { epoch: 7, firstSeq: 11 }],
        },
      ],
    };
  });

  after(async () => {
    for (const n of nodes) await n.stop();
  });

  it('fails with MAP_CHANGED and releases the held writes when another map won', async () => {
    const [leader, target] = nodes as [NodeTwin, NodeTwin, NodeTwin];
    await assert.rejects(plannedTo(leader.address, target.address), (err: unknown) => {
      assert.ok(err instanceof DistkvError && err.code === 'MAP_CHANGED', String(err));
      assert.match(err.message, new RegExp(`version 2 names ${nodes[2]!.address}`));
      return true;
    });
    const fences = leader.calls.filter((c) => c.startsWith('POST /_admin/fence'));
    assert.equal(fences.length, 2, leader.calls.join('\n'));
    assert.match(fences[0]!, /on=1&ms=\d+/, 'the hold has a time limit');
    assert.match(fences[1]!, /on=0/, 'the hold is released');
    assert.deepEqual(
      leader.calls.filter((c) => c === 'POST /_admin/map'),
      [],
      'the map was not sent on to the other nodes',
    );
  });

  it("keeps a node's error code when it refuses a call (a node still starting: STARTING, not INTERNAL)", async () => {
    const starting = await startTwinServer((url) =>
      url === '/cluster'
        ? { map, shards: [] }
        : new TwinStatus(503, {
            error: { code: 'STARTING', message: 'node is starting; its stores are not open yet' },
          }),
    );
    try {
      const [, target] = nodes as [NodeTwin, NodeTwin, NodeTwin];
      const m = map;
      map = { ...m, shards: [{ ...m.shards[0]!, leader: starting.address }] };
      await assert.rejects(plannedTo(starting.address, target.address), (err: unknown) => {
        assert.ok(err instanceof DistkvError && err.code === 'STARTING', String(err));
        assert.match(err.message, /\/_admin\/fence.*: node is starting/);
        return true;
      });
      map = m;
    } finally {
      await starting.stop();
    }
  });
});
