/**
 * A restart with the wrong `--node` (docs/operations.md, "One file, one process per host"): the
 * data directory of node A, started as B, is refused (exit 2) naming A, before anything opens, and
 * nothing of B is created there; A starts again from it. Before, B served its shards from new,
 * empty stores: as the leader of a shard, its replicas found themselves ahead of it and rebuilt
 * from its empty snapshot, every key of theirs gone (an operator's pass over a 3-node cluster).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, spawnCli, startConfigNode, writeConfig } from '../helpers/server-process.js';

describe("distkv serve --node on another node's data directory", { timeout: 120000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-wrong-node-');

  it('is refused naming the node whose stores it holds; the right node starts from it', async () => {
    const A = `127.0.0.1:${String(await freePort())}`;
    const B = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [
      { address: A, replicas: [B] },
      { address: B, replicas: [A] },
    ]);
    const data = join(dir, 'data-a');
    const a = await startConfigNode(config, A, data, running);
    await a.stop();
    running.length = 0;
    const before = readdirSync(data).sort();

    // Bounded: a serve that is not refused runs until stopped.
    const cli = spawnCli(['serve', '--config', config, '--node', B, '--data-dir', data]);
    let timer: NodeJS.Timeout | undefined;
    const wrong = await Promise.race([
      cli.result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          process.kill(cli.pid, 'SIGKILL');
          reject(new Error(`serve --node ${B} on ${A}'s data directory was not refused within 30 s`));
        }, 30000);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(
      wrong.stderr,
      new RegExp(
        `--node ${B}: the data directory ${data} holds the stores of ${A} and none of ${B}: start it with --node ${A}`,
      ),
    );
    assert.deepEqual(readdirSync(data).sort(), before, 'nothing was created');
    assert.equal(existsSync(join(data, B.replace(':', '_'))), false);

    await startConfigNode(config, A, data, running);
  });
});
