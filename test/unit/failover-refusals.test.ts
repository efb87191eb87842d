/**
 * What `distkv failover` says to an operator's mistake, against twins of the nodes (node:http
 * servers answering /cluster as a node does), before it holds anything:
 * - `--to` the shard's current leader says it already leads (it said "is not a replica");
 * - `--to` a replica that does not answer names it and the replicas that answer (it said "no
 *   reachable replica", though one answered);
 * - a `--shard` that does not exist lists the shards there are.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { freePort } from '../helpers/ports.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

describe('distkv failover refusals', () => {
  const twins: TwinServer[] = [];
  let map: LiveMap;
  let leader = '';
  let replica = '';
  let silent = '';

  before(async () => {
    for (let i = 0; i < 2; i++)
      twins.push(
        await startTwinServer((url) =>
          url === '/cluster'
            ? {
                map,
                shards: [{ idx: 0, replicas: [{ address: twins[i]!.address, local: true, acked_seq: 10 }] }],
              }
            : undefined,
        ),
      );
    [leader, replica] = twins.map((t) => t.address) as [string, string];
    silent = `127.0.0.1:${String(await freePort())}`;
    map = {
      version: 1,
      shards: [
        {
          idx: 0,
          name: 's0',
          leader,
          replicas: [replica, silent],
          epoch: 3,
          history: [{ epoch: 3, firstSeq: 1 }],
        },
      ],
    };
  });

  after(async () => {
    for (const t of twins) await t.stop();
  });

  /** refusal runs a planned failover and answers its error. */
  async function refusal(shard: string, to: string): Promise<DistkvError> {
    try {
      await failover({ urls: [`http://${leader}`], shard, to, force: false, token: '', timeoutMs: 1000 });
    } catch (err) {
      assert.ok(err instanceof DistkvError, String(err));
      return err;
    }
    return assert.fail('the failover was not refused');
  }

  /** held lists the fences and maps the twins were sent. */
  const held = (): string[] => twins.flatMap((t) => t.calls.filter((c) => c.startsWith('POST')));

  it('to the current leader: says it already leads', async () => {
    const err = await refusal('s0', leader);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, new RegExp(`--to ${leader} already leads s0 \\(epoch 3\\)`));
    assert.deepEqual(held(), []);
  });

  it('to a replica that does not answer: names it and the replicas that answer', async () => {
    const err = await refusal('s0', silent);
    assert.equal(err.code, 'SHARD_UNREACHABLE');
    assert.match(
      err.message,
      new RegExp(
        `the target ${silent} of s0 does not answer: start it, or choose a replica that answers \\(${replica}\\)`,
      ),
    );
    assert.deepEqual(held(), []);
  });

  it('of a shard that does not exist: lists the shards', async () => {
    const err = await refusal('s9', replica);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /--shard s9: no such shard \(shards: s0\)/);
  });
});
