/**
 * `distkv failover` never promotes a replica that reports `disk-failed` in its own /cluster (its
 * store's directory lost: STORE_DIR_LOST; its own disk failed: DISK_FULL, ...): as leader it
 * refuses every write (and, its directory lost, loses what it holds at its next start). Without
 * --to it is not chosen, even ahead of the others; named with --to it is refused, --force or not,
 * naming the state and code. Before, the most advanced replica was promoted whatever its state.
 * Against twins of the nodes (node:http servers answering as a node does); the leader is down.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { closedAddress } from '../helpers/ports.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

/** Replica is what one twin says of its store: its ack and, when disk-failed, its code. */
interface Replica {
  acked: number;
  code: string | undefined;
}

describe('distkv failover and a disk-failed replica', () => {
  let map: LiveMap;
  const twins: TwinServer[] = [];
  const says: Replica[] = [];
  const published: LiveMap[] = [];
  let a = '';
  let b = '';

  before(async () => {
    for (let i = 0; i < 2; i++) {
      says.push({ acked: 0, code: undefined });
      twins.push(
        await startTwinServer((url, body) => {
          const me = says[i]!;
          if (url === '/cluster') {
            const state = me.code === undefined ? {} : { state: 'disk-failed', local_error: me.code };
            const replica = { address: twins[i]!.address, local: true, acked_seq: me.acked, ...state };
            return { map, shards: [{ idx: 0, replicas: [replica] }] };
          }
          if (url.startsWith('/_admin/fence'))
            return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: me.acked };
          if (url.startsWith('/_admin/map?')) {
            published.push(JSON.parse(body) as LiveMap);
            return { adopted: true, map: published[published.length - 1] };
          }
          return undefined;
        }),
      );
    }
    [a, b] = twins.map((t) => t.address) as [string, string];
    map = {
      version: 3,
      shards: [
        {
          idx: 0,
          name: 's0',
          leader: await closedAddress(),
          replicas: [a, b],
          epoch: 1,
          history: [{ epoch: 1, firstSeq: 1 }],
        },
      ],
    };
  });

  beforeEach(() => {
    published.length = 0;
    for (const t of twins) t.calls.length = 0;
  });

  after(async () => {
    for (const t of twins) await t.stop();
  });

  const forced = (to?: string) =>
    failover({
      urls: [`http://${b}`],
      shard: 's0',
      force: true,
      token: '',
      timeoutMs: 5000,
      ...(to === undefined ? {} : { to }),
    });

  for (const code of ['STORE_DIR_LOST', 'DISK_FULL'])
    it(`refuses --to a replica disk-failed with ${code} even with --force, and changes nothing`, async () => {
      says[0] = { acked: 20, code };
      says[1] = { acked: 10, code: undefined };
      await assert.rejects(forced(a), (err: Error) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, new RegExp(`--to ${a} is disk-failed \\(local_error ${code}\\)`));
        assert.match(err.message, /refuse every write; --force does not change that/);
        assert.match(err.message, new RegExp(`give another replica with --to \\(${b}\\)`));
        return true;
      });
      assert.equal(published.length, 0, 'a map was published');
      assert.ok(!twins.some((t) => t.calls.some((c) => c.includes('/_admin/fence'))), 'a replica was held');
    });

  it('without --to, promotes the replica that may lead, though a disk-failed one is ahead', async () => {
    says[0] = { acked: 20, code: 'STORE_DIR_LOST' };
    says[1] = { acked: 10, code: undefined };
    const r = await forced();
    assert.equal(r.to, b);
    assert.equal(published[0]?.shards[0]?.leader, b);
  });

  it('without --to, refuses when every replica that answers is disk-failed, naming each', async () => {
    says[0] = { acked: 20, code: 'STORE_DIR_LOST' };
    says[1] = { acked: 10, code: 'DISK_FULL' };
    await assert.rejects(forced(), (err: Error) => {
      assert.ok(err instanceof DistkvError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, new RegExp(`${a} is disk-failed \\(local_error STORE_DIR_LOST\\)`));
      assert.match(err.message, new RegExp(`${b} is disk-failed \\(local_error DISK_FULL\\)`));
      return true;
    });
    assert.equal(published.length, 0, 'a map was published');
  });
});
