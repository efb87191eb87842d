/**
 * A store promoted in place on an `--inline` node (the stores on the main thread) is not started
 * as a leader by its replication host: the turnover hands the worker the very spec object the
 * node's plan holds, already turned to `leader`, so ReplicationHost.setRole takes the "same leader
 * in a newer epoch" branch and returns. No LeaderState is made for it (its replicas' acks are
 * never counted: every `?w=1` write to it times out, 504, while its replica streams with lag 0),
 * its epoch start is not placed, the failover's hold on it is not ended (10 s later it logs "follows
 * its leader again: the promotion that held it did not come"), and one without a history id does
 * not get one, so its next restart names a new history and its replicas are answered as a fork
 * at 0. Found on the upgrade path of session 65; the old release behaves the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { putStatus } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, runCli, startConfigNode, writeConfig } from '../helpers/server-process.js';

describe('an --inline node promoted by a planned failover', { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-upgrade-65-inline-');

  it('acknowledges w=1 writes its replica holds', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
    await startConfigNode(config, L, join(dir, 'L'), running, ['--inline']);
    await startConfigNode(config, R, join(dir, 'R'), running, ['--inline']);
    for (let i = 0; i < 20; i++)
      assert.equal(await putStatus(L, `a${String(i)}`, '?w=1&timeout_ms=5000'), 204);
    const fo = await runCli(['failover', '--url', `http://${L}`, '--shard', 'shard-0', '--to', R]);
    assert.equal(fo.code, 0, `failover: ${fo.stdout}${fo.stderr}`);
    // The demoted leader follows within a second or two; give it five.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await putStatus(R, `b${String(i)}`, '?w=1&timeout_ms=2000'));
    const cluster = await runCli(['cluster', '--url', `http://${R}`]);
    assert.deepEqual(
      statuses,
      [204, 204, 204, 204, 204],
      `w=1 writes at the promoted leader:\n${cluster.stdout}`,
    );
  });
});
