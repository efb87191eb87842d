/**
 * A leader's damaged history.json (docs/wal-format.md, "History ids"): the store refuses to open
 * with CORRUPTION naming the file and the advice "remove it to give the store a new history (its
 * replicas then resync from it)".
 *
 *   - `distkv cluster` is what an operator runs first: its table showed the leader's address with
 *     last seq 0 and blamed the replicas ("does not follow its leader ... refused UNAVAILABLE"); the
 *     leader store's state (`failed`) and its error, which /cluster carries, were not printed.
 *   - following the advice, the leader (which holds records) was given no new history id: only a
 *     leader holding nothing is named one. Its replicas did not resync (they went on unchecked),
 *     and the shard was left without an id, so a later loss of the leader's directory is not seen
 *     (test/e2e/history-operator-steps.test.ts, the same gap after `distkv load`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** put writes one key at `node` and checks it was acknowledged. */
async function put(node: string, key: string): Promise<void> {
  const r = await fetch(`http://${node}/kv/${key}`, {
    method: 'PUT',
    body: key,
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(r.status, 204, `PUT ${key} at ${node}: ${r.status} ${await r.text()}`);
}

/** storeDir is the store directory of shard-0 on `node` under `dataDir`. */
function storeDir(dataDir: string, node: string): string {
  const d = readdirSync(dataDir).find((f) => f.endsWith(node.split(':')[1]!));
  assert.ok(d !== undefined, `no node directory for ${node} in ${dataDir}`);
  return join(dataDir, d, 'shard-0');
}

describe('a leader whose history.json is damaged', { timeout: 180000 }, () => {
  const dir = tempDir(after, 'distkv-history-damaged-');
  const running: ServerProcess[] = [];
  after(async () => {
    for (const p of running) await p.stop();
  });

  /** setUp starts a leader and its replica, writes 10 keys, stops the leader; returns its history.json. */
  async function setUp(name: string): Promise<{ config: string; L: string; lData: string; file: string }> {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const sub = join(dir, name);
    mkdirSync(sub);
    const config = writeConfig(sub, [{ address: L, replicas: [R] }]);
    const lData = join(sub, 'leader');
    const leader = await startConfigNode(config, L, lData, running);
    await startConfigNode(config, R, join(sub, 'replica'), running);
    for (let i = 1; i <= 10; i++) await put(L, `h${String(i)}`);
    await leader.stop();
    const file = join(storeDir(lData, L), 'history.json');
    assert.ok(existsSync(file), 'the leader kept a history id');
    return { config, L, lData, file };
  }

  it('is named by distkv cluster as the leader store that failed to open', async () => {
    const { config, L, lData, file } = await setUp('cluster');
    // The file is damaged (a truncated write by a tool, a disk error): the store does not open.
    writeFileSync(file, '{"version":1,"history":"0123');
    await startConfigNode(config, L, lData, running);
    const c = await runCli(['cluster', '--url', L]);
    const said = c.stdout + c.stderr;
    assert.match(
      said,
      /history\.json/,
      `distkv cluster does not say the leader's store failed to open (its history.json):\n${said}`,
    );
  });

  it('gives its shard a history id again once the file is removed as the error advises', async () => {
    const { config, L, lData, file } = await setUp('removed');
    writeFileSync(file, '{"version":1,"history":"0123');
    rmSync(file);
    await startConfigNode(config, L, lData, running);
    await put(L, 'after');
    assert.ok(
      existsSync(file),
      'the leader holding records was given no history id after its damaged file was removed: its replicas are not checked from then on',
    );
  });
  it('of another store is not taken silently, forking replicas that hold exactly its records', async () => {
    const { config, L, lData, file } = await setUp('foreign');
    const R = readFileSync(config, 'utf8').match(/replicas = \["([^"]+)"\]/)![1]!;
    // An operator copies a store directory's files from another cluster (or another shard) and
    // its history.json comes along: a valid id, but not this store's.
    writeFileSync(file, `${JSON.stringify({ version: 1, history: '0123456789abcdef0123456789abcdef' })}\n`);
    const leader = await startConfigNode(config, L, lData, running);
    await put(L, 'after');
    await new Promise((r) => setTimeout(r, 3000));
    const rDir = join(dirname(lData), 'replica');
    const saved = (readdirSync(rDir, { recursive: true }) as string[]).filter((f) => /\.diverged-/.test(f));
    assert.deepEqual(
      saved,
      [],
      `the leader took the other store's id at its start (${leader.stderr.includes('history') ? 'logged' : 'nothing logged'}), and its replica ${R}, holding exactly the leader's 10 records, saved them to a divergence file and resynced`,
    );
  });
});
