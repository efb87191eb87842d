/**
 * The one-process-per-node commands docs/operations.md gives (the `--node` examples and the systemd
 * unit's ExecStart) start every node of a host: each process has a data directory of its own. They
 * gave both processes one `--data-dir`, and the second stopped with DATA_DIR_LOCKED (under
 * systemd, `Restart=on-failure` restarted it for ever).
 * The commands are read from the doc and run on loopback, with the doc's hosts, ports and paths
 * swapped for this test's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { REPO_ROOT, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

/** nodeAndDataDir reads `--node` and `--data-dir` of a documented serve command. */
function nodeAndDataDir(command: string): { node: string; dataDir: string } {
  const node = /--node (\S+)/.exec(command)?.[1];
  const dataDir = /--data-dir (\S+)/.exec(command)?.[1];
  assert.ok(node !== undefined && dataDir !== undefined, `--node and --data-dir in: ${command}`);
  return { node, dataDir };
}

/**
 * startAll runs one `distkv serve` per documented node of 10.0.0.1 (port 8080 or 8081), each on a
 * loopback port of its own, and checks that every one serves; it stops them all.
 */
async function startAll(nodes: { node: string; dataDir: string }[]): Promise<void> {
  const dir = tempDir(after);
  const ports = await freePorts(2);
  const swap = (node: string): string => {
    const docPort = Number(node.split(':').at(-1));
    assert.ok(docPort === 8080 || docPort === 8081, `a documented node of 10.0.0.1: ${node}`);
    return `127.0.0.1:${ports[docPort - 8080]!}`;
  };
  const config = writeConfig(dir, [{ address: swap(':8080') }, { address: swap(':8081') }]);
  const started: ServerProcess[] = [];
  try {
    for (const { node, dataDir } of nodes) {
      const address = swap(node);
      started.push(
        await ServerProcess.start(
          [
            '--config',
            config,
            '--node',
            address,
            '--data-dir',
            join(dir, dataDir.replace(/^\/var\/lib\//, '')),
            '--workers',
            '1',
          ],
          `http://${address}/healthz`,
          { DISTKV_LOG_LEVEL: 'warn' },
        ),
      );
    }
  } finally {
    for (const p of started) await p.stop();
  }
  assert.equal(started.length, nodes.length);
}

describe('docs/operations.md: one process per node', () => {
  it('starts both nodes of a host with the documented --node commands', async () => {
    const commands = DOC.split('\n').filter((l) => /^distkv serve .*--node 10\.0\.0\.1:/.test(l));
    assert.equal(commands.length, 2, 'the two --node examples');
    await startAll(commands.map(nodeAndDataDir));
  });

  it('starts both instances of the documented systemd unit (distkv@8080, distkv@8081)', async () => {
    const execStart = DOC.split('\n').find((l) => l.startsWith('ExecStart='));
    assert.ok(execStart !== undefined, 'the unit has an ExecStart');
    await startAll(
      ['8080', '8081'].map((instance) =>
        nodeAndDataDir(execStart.replaceAll('${DISTKV_HOST}', '10.0.0.1').replaceAll('%i', instance)),
      ),
    );
  });
});
