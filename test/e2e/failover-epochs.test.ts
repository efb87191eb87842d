/**
 * Epochs in the log and in pulls (docs/wal-format.md "Epoch history", docs/failover.md): after a
 * planned failover the new leader answers a pull whose (epoch, seq) is off its history with 409
 * DIVERGED and the fork seq, a pull from a newer epoch with 409 STALE_LEADER, names its epoch in
 * every batch, and writes its records, before and after a restart, in its new epoch; its replica logs
 * them in the epoch they came with; a pull naming a history id that is not one is refused with 400.
 * Separate processes, read back with the commit-log reader.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from '../helpers/cluster.js';
import { storeOf, waitFor } from '../helpers/failover-model.js';
import { logDirOf, logEpochs, storeDirOf } from '../helpers/log-epochs.js';
import { freePort } from '../helpers/ports.js';

/** epochsAt reads the epochs of the records of `node`'s store out of the commit log it names. */
function epochsAt(dir: string, node: string): Promise<Map<number, number>> {
  const storeDir = storeDirOf(dir, node);
  return logEpochs(logDirOf(storeDir), storeDir);
}

describe('epochs after a planned failover', { timeout: 120000 }, () => {
  let dir = '';
  let cluster: TestCluster;
  let A = '';
  let B = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-epochs-'));
    A = `127.0.0.1:${await freePort('127.0.0.1')}`;
    B = `127.0.0.2:${await freePort('127.0.0.2')}`;
    cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
  });

  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** write puts `n` keys named after `prefix` through a client, each acknowledged by the replica. */
  async function write(prefix: string, n: number): Promise<void> {
    const client = new DistkvClient({ urls: [`http://${A}`, `http://${B}`] });
    try {
      for (let i = 0; i < n; i++) await client.put(`${prefix}-${i}`, `v${i}`, { w: 1, timeoutMs: 10000 });
    } finally {
      await client.close();
    }
  }

  /** pull asks B, as its replica A, for the records after `seq` with the epoch `epoch`. */
  function pull(seq: number, epoch: number): Promise<Response> {
    return fetch(
      `http://${B}/_repl/pull?shard=0&after=${seq}&epoch=${epoch}&wait_ms=0&replica=${encodeURIComponent(A)}`,
    );
  }

  it('answers DIVERGED and STALE_LEADER from the history, and logs every record in its epoch', async () => {
    await write('before', 50);
    const r = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
    const E = r.epoch;
    const fork = r.leaderSeq!;
    await write('after', 30);

    const diverged = await pull(fork + 5, 0);
    assert.equal(diverged.status, 409);
    assert.equal(diverged.headers.get('x-distkv-fork-seq'), String(fork));
    const body = (await diverged.json()) as { error: { code: string; fork: number } };
    assert.equal(body.error.code, 'DIVERGED');
    assert.equal(body.error.fork, fork);

    const stale = await pull(fork + 5, E + 1);
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, 'STALE_LEADER');

    const onHistory = await pull(fork + 5, E);
    assert.equal(onHistory.status, 200);
    assert.equal(onHistory.headers.get('x-distkv-epoch'), String(E));
    assert.equal(onHistory.headers.get('x-distkv-records-epoch'), String(E));
    await onHistory.arrayBuffer();
    const older = await pull(fork - 3, 0);
    assert.equal(older.status, 200);
    assert.equal(older.headers.get('x-distkv-records-epoch'), '0', 'a batch stops at the epoch boundary');
    await older.arrayBuffer();
    // A history id that is not one is the puller's mistake, refused before any record is read.
    const badHistory = await fetch(
      `http://${B}/_repl/pull?shard=0&after=${fork}&epoch=${E}&wait_ms=0&replica=${encodeURIComponent(A)}&history=NOT-AN-ID`,
    );
    assert.equal(badHistory.status, 400);
    const refused = (await badHistory.json()) as { error: { code: string; message: string } };
    assert.equal(refused.error.code, 'INVALID_ARGUMENT');
    assert.match(refused.error.message, /history must be 32 lowercase hex digits, got "NOT-AN-ID"/);

    // A restart keeps the epoch: the stores reopen with it from the persisted live map.
    await cluster.stop();
    await cluster.startNode(A);
    await cluster.startNode(B);
    await write('restarted', 20);
    const last = (await storeOf(B)).lastSeq;
    await waitFor(`${A} to hold seq ${last}`, async () => (await storeOf(A)).lastSeq >= last);
    await cluster.stop();

    for (const node of [B, A]) {
      const epochs = await epochsAt(dir, node);
      const above = [...epochs].filter(([seq]) => seq > fork);
      assert.ok(above.length >= 50, `${node}'s log holds the records above the fork`);
      for (const [seq, epoch] of epochs)
        assert.equal(epoch, seq > fork ? E : 0, `${node}'s record ${seq} carries its epoch`);
    }
  });
});
