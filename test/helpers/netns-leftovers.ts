/**
 * The names of the network a NetnsTrio run makes (test/helpers/netns-network.ts), and the removal
 * of what an earlier run left behind. Every name carries the pid of the test process that made it:
 *   namespace `dkv<pid>m<i>`, its veth's outer end `dkv<pid>v<i>`, the bridge `dkvbr<pid>`, and the
 *   namespace `dkvprobe<pid>` of netnsMissing's probe,
 * so a run can tell what another run made. A run killed with SIGKILL (its cleanup never ran) leaves
 * them in the host's namespace for good, with the members it started still running inside;
 * `removeNetnsLeftovers` (each run calls it first) removes those whose pid is no longer alive,
 * ending the processes still in their namespaces, and leaves a live run's alone.
 */
import { execFileSync } from 'node:child_process';

/** NetnsNames are the names of the network of the run of `pid`. */
export interface NetnsNames {
  bridge: string;
  probe: string;
  namespace: (member: number) => string;
  veth: (member: number) => string;
}

/** netnsNames names the network of the run of `pid`. */
export function netnsNames(pid: number): NetnsNames {
  return {
    bridge: `dkvbr${pid}`,
    probe: `dkvprobe${pid}`,
    namespace: (member) => `dkv${pid}m${member}`,
    veth: (member) => `dkv${pid}v${member}`,
  };
}

/** ownerOf is the pid in a name netnsNames gives (a namespace or a link), or undefined for any other name. */
export function ownerOf(name: string): number | undefined {
  const m = /^dkv(?:br|probe)?(\d+)(?:[mv]\d+)?$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** ip runs `ip <args>` and returns its output. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** alive says whether process `pid` exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** stale says whether `name` is a name of netnsNames whose run is gone. */
function stale(name: string): boolean {
  const pid = ownerOf(name);
  return pid !== undefined && pid !== process.pid && !alive(pid);
}

/** namespaces lists the host's named network namespaces. */
export function namespaces(): string[] {
  const out = ip('-j', 'netns', 'list').trim();
  return out === '' ? [] : (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** links lists the host namespace's network links. */
export function links(): string[] {
  const out = ip('-j', 'link', 'show').trim();
  return out === '' ? [] : (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}

/**
 * removeNetnsLeftovers removes the namespaces and links of earlier runs whose pid is no longer
 * alive, after killing the processes left in those namespaces (the members of a killed run, which
 * kept its namespace, veth and addresses in use). Returns the names it removed.
 */
export function removeNetnsLeftovers(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces().filter(stale)) {
    for (const pid of ip('netns', 'pids', ns)
      .split('\n')
      .filter((l) => /^\d+$/.test(l)))
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    ip('netns', 'del', ns);
    removed.push(ns);
  }
  // A namespace's veth goes with it once nothing holds it; a bridge always stays.
  for (const link of links().filter(stale))
    try {
      ip('link', 'del', link);
      removed.push(link);
    } catch {
      // gone with its namespace meanwhile
    }
  return removed;
}
