/**
 * A replica whose store directory was removed while the node runs takes nothing more of its
 * leader (each write it applies is refused with STORE_DIR_LOST) and what it holds is gone at the
 * next start. /cluster says so of it (`disk-failed`, `local_error` STORE_DIR_LOST), and
 * `distkv cluster` names it and exits 1: with a leader that took no writes since, its pulls were
 * answered and it showed `streaming`.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOneProcessPair } from '../helpers/one-process-pair.js';
import { runCli, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});
const dir = tempDir(after);
let node = '';
let replica = '';

before(async () => {
  ({ server, node, replica } = await startOneProcessPair(dir));
});

interface ReplicaDoc {
  address: string;
  state?: string;
  local_error?: string;
}

/** replicaDoc is the replica as its node's /cluster shows it. */
async function replicaDoc(): Promise<ReplicaDoc | undefined> {
  const r = await fetch(`http://${replica}/cluster`);
  const doc = (await r.json()) as { shards: { replicas: ReplicaDoc[] }[] };
  return doc.shards[0]?.replicas.find((x) => x.address === replica);
}

describe('distkv cluster with a replica whose store directory was removed', { timeout: 120000 }, () => {
  it('shows it disk-failed with STORE_DIR_LOST while its leader takes no writes, and exits 1', async () => {
    const put = await fetch(`http://${node}/kv/before`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 204);
    rmSync(join(dir, 'data', replica.replace(':', '_'), 'shard-0'), { recursive: true, force: true });
    // The store checks its directory every second.
    const deadline = Date.now() + 20000;
    let doc: ReplicaDoc | undefined;
    while (Date.now() < deadline) {
      doc = await replicaDoc();
      if (doc?.local_error !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(doc?.state, 'disk-failed', JSON.stringify(doc));
    assert.equal(doc.local_error, 'STORE_DIR_LOST');
    const r = await runCli(['cluster', '--url', node]);
    assert.equal(r.code, 1, `a replica that lost its directory reported healthy:\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /shard-0: replica .*STORE_DIR_LOST/);
  });
});
