/**
 * History ids under what operators do (docs/wal-format.md, "History ids"). Each test is one
 * operator's sequence after which a replica still holds another history of its shard than its
 * leader's, at a position its leader also reached, and follows it as if it were the same one:
 * it serves keys its leader never had with `X-Distkv-Lag: 0`, lacks acknowledged ones, keeps no
 * divergence file, and `distkv cluster` calls it streaming with lag 0 (a failover to it loses the
 * leader's writes). The shape is test/e2e/replica-foreign-history.test.ts's: the replica is down
 * while its leader's history is replaced, the leader takes more writes than the replica holds and
 * is restarted once, then the replica returns.
 *
 *   - `distkv load` then serve: a loaded leader holds records without a history id, is never given
 *     one (only a leader holding nothing is), so a later loss of its directory is not seen.
 *
 * A leader's directory put back from an older copy of itself keeps its id, with fewer records, and
 * new writes at the seqs its replica holds other records at: no history check tells them apart; the
 * record ladder does (test/e2e/replica-restored-leader.test.ts; docs/failover.md).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keysAt, putOk, waitKeys } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** same checks that the replica serves its leader's keys and none other, saying what differs. */
function same(got: string[], want: string[], foreignPrefix: string): void {
  const foreign = got.filter((k) => k.startsWith(foreignPrefix));
  assert.deepEqual(
    got,
    want,
    `the replica serves ${String(foreign.length)} keys its leader does not have (${foreign.slice(0, 3).join(', ')}...) and lacks ${String(want.filter((k) => !got.includes(k)).length)} of the leader's`,
  );
}

describe('history ids under operator steps', { timeout: 240000 }, () => {
  const dir = tempDir(after, 'distkv-history-ops-');
  const running: ServerProcess[] = [];
  after(async () => {
    for (const p of running) await p.stop();
  });

  it('a shard bulk-loaded with distkv load is named a history, so a leader that later loses its directory is not followed by its replica', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
    const lData = join(dir, 'load-leader-1');
    const rData = join(dir, 'load-replica');

    // 1. An initial import, then serve: the replica resyncs from the loaded leader and streams.
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ key: `ld${String(i + 1)}`, value: 'v' }),
    );
    const file = join(dir, 'import.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const load = await runCli(['load', file, '--config', config, '--node', L, '--data-dir', lData]);
    assert.equal(load.code, 0, load.stderr);
    let leader = await startConfigNode(config, L, lData, running);
    const replica = await startConfigNode(config, R, rData, running);
    for (let i = 1; i <= 3; i++) await putOk(L, `w${String(i)}`);
    assert.equal((await waitKeys(R, await keysAt(L))).length, 23, 'the replica copied the loaded shard');
    await replica.stop();
    await leader.stop();

    // 2. The leader's directory is lost while the replica is down: it starts empty, takes 40
    //    writes, and is restarted once before the replica returns.
    const lData2 = join(dir, 'load-leader-2');
    leader = await startConfigNode(config, L, lData2, running);
    for (let i = 1; i <= 40; i++) await putOk(L, `new${String(i)}`);
    await leader.stop();
    await startConfigNode(config, L, lData2, running);

    // 3. The replica returns at seq 23, below the leader's 40.
    await startConfigNode(config, R, rData, running);
    const want = await keysAt(L);
    assert.equal(want.length, 40);
    same(await waitKeys(R, want), want, 'ld');
  });
});
