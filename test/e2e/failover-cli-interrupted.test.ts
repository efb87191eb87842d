/**
 * Ctrl-C in the middle of `distkv failover` (docs/failover.md, "Planned failover"): a command
 * interrupted while it waits for its target to catch up releases what it held and says nothing
 * changed, exit 130. The leader takes writes again at once and the next failover runs, its claim
 * gone. Before, Node's default for SIGINT ended the command silently with the leader's writes held
 * for the whole --timeout-ms plus 10 s (a minute here), and a failover run meanwhile was refused.
 * One shard led by A with replicas B and C, each its own process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { clusterOf, putAt, waitFor } from '../helpers/failover-model.js';
import { ServerProcess } from '../helpers/server-process.js';
import { Trio } from '../helpers/trio.js';

describe('a failover command interrupted with Ctrl-C', { timeout: 180000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('failover-cli-interrupted');
  });

  after(async () => {
    await trio.stop();
  });

  it('releases the leader it held while its target caught up, exits 130, and the next failover runs', async () => {
    const { A, B, C } = trio;
    // C stops following (an operator's hold, without `by`: no claim) and falls behind, so the
    // command waits for it with A's writes held.
    const hold = (on: 0 | 1) =>
      fetch(`http://${C}/_admin/fence?shard=0&on=${on}&ms=120000`, { method: 'POST' });
    assert.equal((await hold(1)).status, 200);
    let cli: ServerProcess | undefined;
    try {
      for (let i = 0; i < 5; i++) await trio.client.put(`behind-${String(i)}`, 'v');
      cli = ServerProcess.spawn(
        ['failover', '--shard', 'shard-0', '--to', C, '--url', A, '--timeout-ms', '60000'],
        { DISTKV_TOKEN: '', DISTKV_URL: '' },
      );
      await waitFor(
        'the command to hold A',
        async () => (await clusterOf(A)).shards[0]!.leader.writes_held === true,
        30000,
      );
      assert.equal(await putAt(A, 'held'), 503, 'A holds writes while the command waits');
      cli.child.kill('SIGINT');
      const code = await cli.waitExit();
      assert.equal(code, 130, cli.stderr);
      assert.match(cli.stderr, /interrupted: releasing this failover's holds/);
      assert.match(cli.stderr, /stopped before the new map was posted: holds released, nothing changed/);
      assert.equal(cli.stdout, '');
      cli = undefined;
    } finally {
      cli?.child.kill('SIGKILL');
      assert.equal((await hold(0)).status, 200);
    }
    // Released by the command, not by the hold's time limit (a minute away).
    await waitFor('A to take writes again', async () => (await putAt(A, 'free')) === 204, 5000);
    const doc = await clusterOf(A);
    assert.equal(doc.shards[0]!.leader.address, A);
    assert.equal(doc.map_version, 1, 'no map was published');
    const r = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
  });
});
