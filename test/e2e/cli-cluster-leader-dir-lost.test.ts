/**
 * `distkv cluster` is the health check (docs/operations.md: "It exits 0 only when every shard's
 * leader serves it and every replica follows its leader"). A leader whose store directory was
 * removed while the node runs refuses every write with 507 STORE_DIR_LOST, and what it holds is
 * gone at the next start (docs/operations.md, "A store directory removed while it runs": copy the
 * data out now). Yet /cluster shows that leader as any other and the command printed a healthy
 * table and exited 0: only /metrics (`distkv_store_dir_lost`) and the node's log said so.
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

before(async () => {
  ({ server, node } = await startOneProcessPair(dir));
});

/** putStatus is the status and error code of a PUT of `key` at the leader. */
async function putStatus(key: string): Promise<string> {
  const r = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: 'v' });
  const text = await r.text();
  const code =
    r.status === 204 ? '' : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '');
  return `${String(r.status)} ${code}`.trim();
}

describe('distkv cluster with a leader whose store directory was removed', { timeout: 120000 }, () => {
  it('is not healthy: exit 1, naming the shard and STORE_DIR_LOST', async () => {
    assert.equal(await putStatus('before'), '204');
    rmSync(join(dir, 'data', node.replace(':', '_'), 'shard-0'), { recursive: true, force: true });
    // The store checks its directory every second.
    const deadline = Date.now() + 20000;
    let status = '';
    while (Date.now() < deadline) {
      status = await putStatus('after');
      if (status !== '204') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, '507 STORE_DIR_LOST', 'the leader refuses writes');
    const r = await runCli(['cluster', '--url', node]);
    assert.equal(r.code, 1, `a leader refusing every write reported healthy:\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /shard-0.*STORE_DIR_LOST/);
  });
});
