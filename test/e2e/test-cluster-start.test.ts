/**
 * The cluster harness cleans up after a start that fails part-way: a node that could not start
 * fails TestCluster.start, and every node it did start (or was still starting) is stopped, so no
 * process is left holding its port and data directory for the tests that follow.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

/** liveChildren are the pids of this process's children that have not exited (zombies aside). */
function liveChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z') out.push(Number(name));
  }
  return out;
}

it('stops every node it started when another node of the cluster fails to start', async (t) => {
  const dir = tempDir(t.after.bind(t));
  const first = `127.0.0.1:${await freePort()}`;
  const second = `127.0.0.1:${await freePort()}`;
  const before = liveChildren();
  try {
    await assert.rejects(
      TestCluster.start({
        dir,
        shards: [{ address: first }, { address: second }],
        // The second node's config does not exist: it exits at once, while the first still starts.
        configs: new Map([[second, join(dir, 'missing.toml')]]),
      }),
      /server exited/,
    );
    const left = liveChildren().filter((p) => !before.includes(p));
    assert.deepEqual(left, [], 'a node of the failed start is still running');
  } finally {
    for (const pid of liveChildren().filter((p) => !before.includes(p))) process.kill(pid, 'SIGKILL');
  }
});
