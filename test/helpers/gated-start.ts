/**
 * A one-node cluster started in process (DistkvNode.start) whose shard worker opens its stores
 * only when the test says (resp-gated-worker.ts): for tests of what a node answers while it starts
 * (test/integration/resp-start.test.ts, resp-start-ioredis.test.ts). One at a time per process:
 * the gate is named by DISTKV_TEST_START_GATE.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvNode } from '../../src/server/node.js';
import { createLogger } from '../../src/util/logger.js';
import { freeNodeAddress } from './resp.js';
import { tempDir } from './temp-dir.js';

const GATED_ENTRY = new URL('./resp-gated-worker.js', import.meta.url);

/** GatedStart is a node that starts once `open('go')` writes the gate, or fails to with `open('fail')`. */
export interface GatedStart {
  started: Promise<DistkvNode>;
  open: (how?: 'go' | 'fail') => void;
  /** self is the node's address (its RESP port is respOf(self)). */
  self: string;
}

/** startGated starts a one-node cluster whose stores open once `open(...)` writes the gate. */
export async function startGated(): Promise<GatedStart> {
  const dir = tempDir(after);
  const self = await freeNodeAddress();
  const config = parseConfigText(
    `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${self}"\n[server]\ndata_dir = "${join(dir, 'data')}"\n`,
    'gated-start',
  );
  const gate = join(dir, 'gate');
  process.env.DISTKV_TEST_START_GATE = gate;
  const started = DistkvNode.start({
    config,
    nodes: [self],
    log: createLogger('fatal'),
    workerEntry: GATED_ENTRY,
  });
  started.catch(() => undefined);
  return {
    started,
    open: (how = 'go') => {
      writeFileSync(gate, how);
    },
    self,
  };
}
