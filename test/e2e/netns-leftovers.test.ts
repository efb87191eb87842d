/**
 * The partition tests' network (test/helpers/netns-network.ts, under NetnsTrio) does not outlive
 * its run. A run killed with SIGKILL leaves its namespaces, veths and bridge in the host's
 * namespace, and the members it started running in them: the next run removes them when it
 * starts (their names carry the pid of a process that is gone), ending those processes, and
 * leaves a live run's alone. A run killed with SIGINT or SIGTERM removes its network itself, then
 * dies of the signal. Before, both left everything behind for good. Skipped where `ip netns`
 * cannot run (not root), as the partition test is.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { ip, links, namespaces, netnsNames, ownerOf } from '../helpers/netns-leftovers.js';
import { NetnsNetwork, netnsMissing } from '../helpers/netns-network.js';

/** idle starts a process that waits for a minute (optionally in namespace `ns`). */
function idle(ns?: string): ChildProcess {
  const node = [process.execPath, '-e', 'setTimeout(() => undefined, 60000)'];
  return ns === undefined ? spawn(node[0]!, node.slice(1)) : spawn('ip', ['netns', 'exec', ns, ...node]);
}

/** deadPid is the pid of a process that has exited. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  assert.ok(pid > 0);
  return pid;
}

/** namesOf lists the namespaces and links whose names carry `pid`. */
function namesOf(pid: number): string[] {
  return [...namespaces(), ...links()].filter((n) => ownerOf(n) === pid).sort();
}

/** removeAll removes whatever of `pid`'s network is still there (a failed test's cleanup). */
function removeAll(pid: number): void {
  for (const ns of namespaces().filter((n) => ownerOf(n) === pid)) ip('netns', 'del', ns);
  for (const link of links().filter((n) => ownerOf(n) === pid))
    try {
      ip('link', 'del', link);
    } catch {
      // went with its namespace
    }
}

/** exited waits (bounded) for `child` to exit: the signal that ended it, else its code ('running' if it still ran: then it is killed). */
async function exited(child: ChildProcess, ms = 10000): Promise<NodeJS.Signals | number | 'running'> {
  if (child.exitCode !== null || child.signalCode !== null) return child.signalCode ?? child.exitCode!;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'running'>((resolve) => {
    timer = setTimeout(() => {
      resolve('running');
    }, ms);
  });
  const ended = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const r = await Promise.race([ended, late]);
  clearTimeout(timer);
  if (r === 'running') {
    child.kill('SIGKILL');
    return r;
  }
  return r[1] ?? r[0]!;
}

/** until waits (bounded) until `check` holds. */
async function until(what: string, check: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the netns trio network', { timeout: 60000, skip: netnsMissing() }, () => {
  it("removes at its start what a killed run left (namespace, veth, bridge, processes), and keeps a live run's", async () => {
    const dead = deadPid();
    const left = netnsNames(dead);
    const liveRun = idle();
    const live = netnsNames(liveRun.pid!);
    let orphan: ChildProcess | undefined;
    let net: NetnsNetwork | undefined;
    try {
      // What a run of pid `dead` killed by SIGKILL left: a member's namespace with a process still
      // in it, its veth on the bridge; and the probe of netnsMissing, cut off mid-way.
      ip('link', 'add', left.bridge, 'type', 'bridge');
      ip('netns', 'add', left.namespace(1));
      ip('link', 'add', left.veth(1), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', left.namespace(1));
      ip('link', 'set', left.veth(1), 'master', left.bridge);
      ip('netns', 'add', left.probe);
      orphan = idle(left.namespace(1));
      ip('netns', 'add', live.namespace(1));
      assert.deepEqual(namesOf(dead), [left.bridge, left.namespace(1), left.probe, left.veth(1)].sort());

      net = NetnsNetwork.build(1);
      assert.equal(await exited(orphan), 'SIGKILL', 'the process left in its namespace was ended');
      await until(`${namesOf(dead).join(', ')} left`, () => namesOf(dead).length === 0);
      assert.deepEqual(namesOf(liveRun.pid!), [live.namespace(1)], "a live run's namespace was removed");
      const own = netnsNames(process.pid);
      assert.deepEqual(namesOf(process.pid), [own.bridge, own.namespace(1), own.veth(1)].sort());
      net.remove();
      await until(
        `${namesOf(process.pid).join(', ')} left by remove`,
        () => namesOf(process.pid).length === 0,
      );
    } finally {
      net?.remove();
      orphan?.kill('SIGKILL');
      liveRun.kill('SIGKILL');
      removeAll(dead);
      removeAll(liveRun.pid!);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    it(`removes its network on ${signal}, ending what runs in it first, then dies of the signal`, async () => {
      const helper = new URL('../helpers/netns-network.js', import.meta.url).href;
      const script = [
        `import { NetnsNetwork } from ${JSON.stringify(helper)};`,
        `const net = NetnsNetwork.build(2, () => console.log('ending members'));`,
        `console.log('built', net.namespaces.join(' '));`,
        `setTimeout(() => undefined, 60000);`,
      ].join('\n');
      const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
      const pid = child.pid!;
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      try {
        await until(`the network built (${out})`, () => out.includes('built'));
        const names = netnsNames(pid);
        assert.deepEqual(
          namesOf(pid),
          [names.bridge, names.namespace(1), names.namespace(2), names.veth(1), names.veth(2)].sort(),
        );
        child.kill(signal);
        assert.equal(await exited(child), signal, out);
        assert.match(out, /ending members/);
        await until(`${namesOf(pid).join(', ')} left after ${signal}`, () => namesOf(pid).length === 0);
      } finally {
        child.kill('SIGKILL');
        removeAll(pid);
      }
    });
});
