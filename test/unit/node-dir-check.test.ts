/**
 * refuseOtherNodesDir (src/cli/node-dir-check.ts): a data directory whose stores are all of
 * addresses the config no longer names (a node whose port was edited between runs) is refused,
 * with --node or without, naming the old address, the absolute directory and what to do. Before,
 * only other nodes of the config were checked: the node started on new, empty stores, and a shard
 * without replicas answered 404 for every key. A directory that also holds a store of a hosted
 * node, or no store at all, is not refused.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { refuseOtherNodesDir } from '../../src/cli/node-dir-check.js';
import { parseConfigText } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { LOCK_FILE, selfIdentity } from '../../src/server/data-dir-lock.js';
import { tempDir } from '../helpers/temp-dir.js';

const OLD = '127.0.0.1:4001';
const NEW = '127.0.0.1:4002';

/** configOf is a one-shard config led by `leader` (replicas `replicas`) over `dataDir`. */
function configOf(dataDir: string, leader: string, replicas: string[] = []): Config {
  const text = `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${leader}"\nreplicas = [${replicas.map((r) => `"${r}"`).join(', ')}]\n`;
  return parseConfigText(text, 'sharding.toml', { 'server.data_dir': dataDir }, {});
}

/** storeAt makes an lsm store directory `<data>/<nodeDir>/<shard>` holding `bytes` bytes. */
function storeAt(data: string, nodeDir: string, shard = 'shard-0', bytes = 10): string {
  const dir = join(data, nodeDir, shard);
  mkdirSync(join(dir, 'runs'), { recursive: true });
  writeFileSync(join(dir, 'commit-log'), Buffer.alloc(bytes));
  return dir;
}

/** refusal is the UsageError refuseOtherNodesDir throws, or undefined when it lets the start through. */
function refusal(config: Config, nodes: string[]): string | undefined {
  try {
    refuseOtherNodesDir(config, nodes);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
}

describe('a data directory holding only stores of an address the config no longer names', () => {
  it('is refused with --node, naming the old address, the directory and what to do', () => {
    const data = tempDir(after);
    const old = storeAt(data, '127.0.0.1_4001', 'shard-0', 2 * 1024 * 1024);
    const message = refusal(configOf(data, NEW), [NEW]);
    assert.ok(message !== undefined, 'the start was let through');
    assert.match(
      message,
      new RegExp(`^--node ${NEW}: the data directory ${data} holds the stores of ${OLD} `),
    );
    assert.ok(message.includes(old), message);
    assert.match(message, /2\.0 MiB/);
    assert.match(message, new RegExp(`Start it with its old address \\(put ${OLD} back in the config\\)`));
    assert.match(message, /back it up under the old config and restore it under the new one/);
  });

  it('names an IPv6 node by its address, a host name with "_" as it is, and several of them', () => {
    const data = tempDir(after);
    storeAt(data, '__1_4009');
    storeAt(data, '127.0.0.1_4001', 'shard-1');
    storeAt(data, 'kv_node-1_4002', 'shard-2');
    const message = refusal(configOf(data, NEW), [NEW]);
    assert.match(message ?? '', /holds the stores of \S+/);
    for (const address of ['[::1]:4009', '127.0.0.1:4001', 'kv_node-1:4002'])
      assert.ok(message?.includes(address), `${address} named: ${message ?? ''}`);
    assert.doesNotMatch(message ?? '', /\[kv:node-1\]/);
    assert.match(message ?? '', /addresses sharding\.toml no longer names/);
  });

  it('names the data directory as an absolute path when the config gives a relative one', () => {
    const data = tempDir(after);
    storeAt(data, '127.0.0.1_4001');
    const message = refusal(configOf(relative(process.cwd(), data), NEW), [NEW]);
    assert.ok(message?.includes(`the data directory ${data} holds`), message);
  });
});

describe('a data directory the check lets through', () => {
  it('without --node (every node of the config on this machine): another config’s run may have left it', () => {
    const data = tempDir(after);
    storeAt(data, '127.0.0.1_4001');
    assert.equal(refusal(configOf(data, NEW), []), undefined);
  });

  it('one that also holds a store of the node to host (a replica removed, a shard renamed)', () => {
    const data = tempDir(after);
    storeAt(data, '127.0.0.1_4001');
    storeAt(data, '127.0.0.1_4002');
    assert.equal(refusal(configOf(data, NEW), [NEW]), undefined);
    assert.equal(refusal(configOf(data, NEW), []), undefined);
  });

  it('a fresh one: missing, empty, or holding only its own entries (worker logs, LOCK)', () => {
    const data = tempDir(after);
    assert.equal(refusal(configOf(join(data, 'none'), NEW), [NEW]), undefined);
    mkdirSync(join(data, 'log', 'w0'), { recursive: true });
    writeFileSync(join(data, 'log', 'w0', 'segment'), Buffer.alloc(10));
    writeFileSync(join(data, 'LOCK'), 'x');
    mkdirSync(join(data, '127.0.0.1_4001', 'shard-0'), { recursive: true });
    assert.equal(refusal(configOf(data, NEW), [NEW]), undefined);
  });

  it('one a live process holds: left to the lock, which names it and its pid', () => {
    const data = tempDir(after);
    storeAt(data, '127.0.0.1_4001');
    writeFileSync(join(data, LOCK_FILE), `${JSON.stringify(selfIdentity())}\n`);
    assert.equal(refusal(configOf(data, NEW), [NEW]), undefined);
  });

  it("still refuses another config node's directory as before, naming that node", () => {
    const data = tempDir(after);
    storeAt(data, '127.0.0.1_4001');
    const message = refusal(configOf(data, OLD, [NEW]), [NEW]);
    assert.match(
      message ?? '',
      new RegExp(`holds the stores of ${OLD} and none of ${NEW}: start it with --node ${OLD}`),
    );
  });
});
