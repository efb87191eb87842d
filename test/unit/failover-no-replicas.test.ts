/**
 * `distkv failover` of a shard with no replica to promote, against twins of the nodes (node:http
 * servers answering /cluster as a node does), before it holds anything:
 * - a shard whose config lists no replicas is a --shard that does not fit the cluster (exit 2,
 *   INVALID_ARGUMENT, saying it has none);
 * - a shard whose replicas all are down names them and says to start one (exit 1).
 * Both said "SHARD_UNREACHABLE: no reachable replica of s0 to promote" (exit 1): for a shard
 * without replicas, as if one were down and starting it would help.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

describe('distkv failover of a shard with no replica to promote', () => {
  let twin: TwinServer;
  let map: LiveMap;
  let down = '';

  before(async () => {
    twin = await startTwinServer((url) => (url === '/cluster' ? { map, shards: [] } : undefined));
    down = `127.0.0.1:${String(await freePort())}`;
  });

  after(async () => {
    await twin.stop();
  });

  /** shardWith makes the twin lead shard s0 with `replicas`. */
  function shardWith(replicas: string[]): void {
    map = {
      version: 1,
      shards: [{ idx: 0, name: 's0', leader: twin.address, replicas, epoch: 0, history: [] }],
    };
  }

  /** refusal runs a planned failover of s0 and answers its error. */
  async function refusal(): Promise<DistkvError> {
    try {
      await failover({
        urls: [`http://${twin.address}`],
        shard: 's0',
        force: false,
        token: '',
        timeoutMs: 1000,
      });
    } catch (err) {
      assert.ok(err instanceof DistkvError, String(err));
      return err;
    }
    return assert.fail('the failover was not refused');
  }

  it('without replicas in its config: INVALID_ARGUMENT saying so, exit 2', async () => {
    shardWith([]);
    const err = await refusal();
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /s0 has no replicas to promote \(its config lists none\)/);
    const r = await runCli(['failover', '--url', twin.address, '--shard', 's0']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /s0 has no replicas to promote/);
    assert.deepEqual(
      twin.calls.filter((c) => c.startsWith('POST')),
      [],
      'nothing was held',
    );
  });

  it('with every replica down: names them and says to start one, exit 1', async () => {
    shardWith([down]);
    const err = await refusal();
    assert.equal(err.code, 'SHARD_UNREACHABLE');
    assert.equal(err.message, `no replica of s0 answers (${down}): start one, then run the failover again`);
    const r = await runCli(['failover', '--url', twin.address, '--shard', 's0']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
  });
});
