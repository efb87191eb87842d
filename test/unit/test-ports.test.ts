/**
 * The tests' free ports (test/helpers/ports.ts): a port handed out is never handed out again in the
 * same process, nor is one whose RESP twin (port + 1000, where a spawned node also listens) is
 * another's port. CI once failed watch-multi-host with "cannot listen on 127.0.0.1:P: the port is in
 * use" when a node was given a port another test node already held, or was about to.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, freePorts } from '../helpers/ports.js';

const PORTS_MODULE = new URL('../helpers/ports.js', import.meta.url).href;

/**
 * TestProcess is another test process that took `ports` with freePorts and holds them until `exit`
 * (a test file's process holds its ports while it runs).
 */
interface TestProcess {
  ports: number[];
  exit: () => Promise<void>;
}

/** testProcess starts a process of its own that takes `n` ports with freePorts and prints them. */
async function testProcess(n: number): Promise<TestProcess> {
  const script =
    `import { freePorts } from ${JSON.stringify(PORTS_MODULE)};` +
    `console.log(JSON.stringify(await freePorts(${String(n)})));` +
    `process.stdin.resume().on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve();
    });
    child.once('close', () => {
      reject(new Error(`the process ended without its ports: ${out}`));
    });
  });
  return {
    ports: JSON.parse(out) as number[],
    exit: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

describe('test ports', () => {
  it('never hands out a port, or a port whose RESP twin, another was given', async () => {
    // 400 draws from ~20k ports: without the record, several would clash (about 6 expected).
    const ports = [
      ...(await freePorts(200)),
      ...(await Promise.all(Array.from({ length: 200 }, () => freePort()))),
    ];
    const taken = new Map<number, number>();
    for (const [i, p] of ports.entries()) {
      for (const q of [p, p + 1000]) {
        assert.equal(taken.get(q), undefined, `port ${q} of draw ${i} was taken by draw ${taken.get(q)}`);
        taken.set(q, i);
      }
    }
  });

  it('never hands a port to two test processes at once (test files run in parallel)', async () => {
    // 2 x 300 ports and their twins from ~20k: without a record shared by the processes, a dozen or
    // so would be handed to both.
    const [a, b] = await Promise.all([testProcess(300), testProcess(300)]);
    await Promise.all([a.exit(), b.exit()]);
    const ofA = new Set(a.ports.flatMap((p) => [p, p + 1000]));
    const both = b.ports.flatMap((p) => [p, p + 1000]).filter((p) => ofA.has(p));
    assert.deepEqual(both, [], 'ports handed to both processes');
    // Each process gave its ports back when it exited.
    const left = [...a.ports, ...b.ports].filter((p) =>
      existsSync(join(tmpdir(), 'distkv-test-ports', String(p))),
    );
    assert.deepEqual(left, [], 'reservations left by processes that exited');
  });
});
