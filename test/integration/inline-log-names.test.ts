/**
 * An inline node (`distkv serve --inline`: its stores on the main thread, no worker threads) names
 * the place its stores run as what it is. Its start said `store shard-0 (leader) on ... open on
 * worker 0` (field `worker: 0`), and a call to its stores before they ran failed with `shard
 * worker 0 is not running`: an operator looked for a worker thread the node never had.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvNode } from '../../src/server/node.js';
import { INLINE, WorkerPool } from '../../src/server/worker-pool.js';
import { freePorts } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

interface Line {
  msg: string;
  worker?: unknown;
}

describe('an inline node names its stores as inline', () => {
  it('logs its stores open on the main thread, not on worker 0', async () => {
    const dir = tempDir(after);
    const [port] = (await freePorts(1)) as [number];
    const self = `127.0.0.1:${String(port)}`;
    const config = parseConfigText(
      `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${self}"\nreplicas = []\n` +
        `[server]\ndata_dir = "${dir}"\nresp_port_offset = 0\n`,
      'inline-log-names',
    );
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
    const node = await DistkvNode.start({ config, nodes: [self], log, inline: true });
    await node.stop();
    const opened = lines.filter((l) => l.msg.startsWith('store shard-0'));
    assert.equal(opened.length, 1, JSON.stringify(lines));
    assert.equal(opened[0]!.msg, `store shard-0 (leader) on ${self} open on the main thread (inline)`);
    assert.equal(opened[0]!.worker, 'inline');
    const worker0 = lines.filter((l) => /worker 0/.test(l.msg) || l.worker === 0);
    assert.deepEqual(worker0, [], 'no line names a worker 0');
  });

  it('refuses a call before its stores run naming the inline host, not shard worker 0', async () => {
    const pool = new WorkerPool(
      [[testStoreSpec(tempDir(after, 'distkv-inline-names-'))]],
      INLINE,
      pino({ level: 'silent' }),
      'silent',
    );
    assert.equal(pool.workerName(0), 'inline');
    await assert.rejects(pool.call(0, { type: 'stats' }), (err: Error) => {
      assert.equal(err.message, 'the inline store host (main thread) is not running');
      return true;
    });
  });
});
