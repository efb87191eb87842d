/**
 * A node running in the test's own process (its stores inline: the "worker" is this thread too),
 * serving `shards` shards on one free port, for integration tests that look at its watchers,
 * sockets or timers from inside.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvNode } from '../../src/server/node.js';
import { createLogger } from '../../src/util/logger.js';
import { freePorts } from './ports.js';

/** InlineNode is a started node, its port, and how to stop it (removing its data). */
export interface InlineNode {
  node: DistkvNode;
  port: number;
  stop(): Promise<void>;
}

/** startInlineNode starts a node of `shards` shards and waits (bounded) until it serves. */
export async function startInlineNode(shards: number, name: string): Promise<InlineNode> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-test-'));
  const [port] = (await freePorts(1)) as [number];
  const address = `127.0.0.1:${port}`;
  const shardText = Array.from(
    { length: shards },
    (_, i) => `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "${address}"\nreplicas = []\n`,
  ).join('\n');
  const config = parseConfigText(`${shardText}\n[server]\ndata_dir = "${dir}"\nresp_port_offset = 0\n`, name);
  const node = await DistkvNode.start({ config, nodes: [], log: createLogger('error'), inline: true });
  const stop = async (): Promise<void> => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20000;
  while ((await fetch(`http://${address}/healthz`).catch(() => undefined))?.status !== 200) {
    if (Date.now() > deadline) {
      await stop();
      assert.fail('the node did not start serving');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { node, port, stop };
}
