/**
 * A leader's damaged history.json (docs/wal-format.md, "History ids"): the store refuses to open
 * with CORRUPTION naming the file. Its advice was "remove it to give the store a new history (its
 * replicas then resync from it)", which is false for a leader holding records: it is given no new
 * id (only a leader holding nothing begins a history), its replicas go on unchecked, and a later
 * loss of its directory is not seen. It now advises what holds: copy the file from a replica store
 * of the shard (the same history), or remove it knowing what that leaves.
 *
 *   - `distkv cluster` is what an operator runs first: its table showed the leader's address with
 *     last seq 0 and blamed the replicas ("does not follow its leader ... refused UNAVAILABLE"); the
 *     leader store's state (`failed`) and its error, which /cluster carries, were not printed.
 *   - a file of another shard (copied from another store's directory: a valid id, another
 *     history's) was taken silently, and the leader's replica, holding exactly its records, saved
 *     them to a divergence file and resynced. The file now names its shard and is refused.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { putOk } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** replicaOf is the replica address the one-shard config names. */
function replicaOf(config: string): string {
  return readFileSync(config, 'utf8').match(/replicas = \["([^"]+)"\]/)![1]!;
}

/** waitFor polls `cond` every 100 ms until it holds, failing after `ms` with what `seen` says. */
async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  seen: () => string = () => '',
): Promise<void> {
  for (const end = Date.now() + ms; !(await cond());) {
    assert.ok(Date.now() < end, `not seen within ${String(ms)} ms${seen()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
    for (let i = 1; i <= 10; i++) await putOk(L, `h${String(i)}`);
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

  it('takes its shard’s id back from a replica’s history.json as the error advises, and its replica goes on without a resync', async () => {
    const { config, L, lData, file } = await setUp('copied');
    const rFile = join(storeDir(join(dirname(lData), 'replica'), replicaOf(config)), 'history.json');
    await waitFor(() => existsSync(rFile), 15000);
    const id = (JSON.parse(readFileSync(file, 'utf8')) as { history: string }).history;
    writeFileSync(file, '{"version":1,"history":"0123');
    const failed = await startConfigNode(config, L, lData, running);
    await waitFor(
      () => (failed.stdout + failed.stderr).includes('copy history.json from a replica store of shard-0'),
      15000,
      () =>
        `: the leader's log does not advise copying the replica's history.json:\n${failed.stdout + failed.stderr}`,
    );
    assert.doesNotMatch(
      failed.stdout + failed.stderr,
      /resync from it/,
      'the error still advises removing the file for a new history',
    );
    await failed.stop();
    // The advice: the replica's file names the same shard's history.
    cpSync(rFile, file);
    await startConfigNode(config, L, lData, running);
    await putOk(L, 'after');
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { history: string }).history, id);
    const R = replicaOf(config);
    await waitFor(async () => (await fetch(`http://${R}/kv/after`)).status === 200, 15000);
    const rDir = join(dirname(lData), 'replica');
    const saved = (readdirSync(rDir, { recursive: true }) as string[]).filter((f) => /\.diverged-/.test(f));
    assert.deepEqual(saved, [], 'the replica, holding the leader’s records, saved them to a divergence file');
  });

  it('of another shard is refused at start naming both shards, and its replica, holding exactly the leader’s records, is not forked', async () => {
    const { config, L, lData, file } = await setUp('foreign');
    const R = replicaOf(config);
    // An operator copies a store directory's files from another shard and its history.json comes
    // along: a valid id, but another shard's history.
    writeFileSync(
      file,
      `${JSON.stringify({ version: 1, history: '0123456789abcdef0123456789abcdef', shard: 'shard-1', node: '127.0.0.1_1' })}\n`,
    );
    const leader = await startConfigNode(config, L, lData, running);
    await waitFor(
      () =>
        /names the history of shard \\"shard-1\\".*not of \\"shard-0\\"/.test(leader.stdout + leader.stderr),
      15000,
      () => `: the leader's log does not name both shards:\n${leader.stdout}${leader.stderr}`,
    );
    assert.equal((await fetch(`http://${L}/kv/x`, { method: 'PUT', body: 'x' })).status >= 500, true);
    await new Promise((r) => setTimeout(r, 3000));
    const rDir = join(dirname(lData), 'replica');
    const saved = (readdirSync(rDir, { recursive: true }) as string[]).filter((f) => /\.diverged-/.test(f));
    assert.deepEqual(
      saved,
      [],
      `the leader took the other shard's id at its start, and its replica ${R}, holding exactly the leader's 10 records, saved them to a divergence file and resynced`,
    );
  });
});
