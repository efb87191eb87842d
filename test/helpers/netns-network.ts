/**
 * NetnsNetwork: the network of a NetnsTrio (test/helpers/netns-trio.ts): one bridge in the test's
 * namespace (10.211.N.0/24, N from the test's pid, the next free one if another run holds it) and one network namespace per member hanging
 * off it by a veth pair; member i is 10.211.N.i, the bridge .254 (the test process's address: it
 * reaches every member) and .253 (where the trio's etcd proxy listens). Names carry the pid
 * (test/helpers/netns-leftovers.ts): `build` first removes what runs that are gone left behind (a
 * run killed with SIGKILL), and until `remove` a SIGINT or SIGTERM removes the network (ending the
 * processes `onSignal` names first) before the process dies of the signal as it would have.
 * Needs root and `ip netns` (`netnsMissing()` names why not).
 */
import { ip, netnsNames, removeNetnsLeftovers } from './netns-leftovers.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** netnsMissing returns a skip message when this process cannot make network namespaces, else false. */
export function netnsMissing(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces (CI runs as root)';
  const probe = netnsNames(process.pid).probe;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return false;
  } catch (e) {
    return `ip netns does not work here: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * freePrefix is `10.211.N` for the first N from the pid's (1 + pid % 250) on that no address of the
 * host's namespace is in: two runs side by side (test files run two at a time) whose pids gave
 * the same N put the same addresses on two bridges, and each reached the other's members.
 */
function freePrefix(): string {
  const used = new Set(
    (JSON.parse(ip('-j', '-4', 'addr', 'show') || '[]') as { addr_info?: { local: string }[] }[]).flatMap(
      (l) => (l.addr_info ?? []).map((a) => a.local.split('.').slice(0, 3).join('.')),
    ),
  );
  for (let k = 0; k < 250; k++) {
    const prefix = `10.211.${1 + ((process.pid + k) % 250)}`;
    if (!used.has(prefix)) return prefix;
  }
  throw new Error('every 10.211.N.0/24 (N = 1..250) is in use in this namespace');
}

/** NetnsNetwork is a built network: remove it when done. */
export class NetnsNetwork {
  /** prefix is the network's first three octets: member i (1-based) is `${prefix}.${i}`. */
  readonly prefix: string;
  /** namespaces are the members' namespaces, member 1 first. */
  readonly namespaces: string[] = [];
  private readonly bridge: string;
  private bridged = false;
  private readonly signalled = (signal: NodeJS.Signals): void => {
    this.onSignal();
    this.remove();
    // Without a handler of ours, the signal's default action: the process dies of it.
    process.kill(process.pid, signal);
  };
  private readonly onSignal: () => void;

  private constructor(onSignal: () => void) {
    this.prefix = freePrefix();
    this.bridge = netnsNames(process.pid).bridge;
    this.onSignal = onSignal;
  }

  /**
   * build removes an earlier run's leftovers, then makes the bridge and `members` namespaces;
   * `onSignal` runs (synchronously) before a SIGINT or SIGTERM removes them, e.g. to kill the
   * processes in them. A build that fails removes what it made.
   */
  static build(members: number, onSignal: () => void = () => undefined): NetnsNetwork {
    removeNetnsLeftovers();
    const net = new NetnsNetwork(onSignal);
    for (const s of SIGNALS) process.once(s, net.signalled);
    try {
      net.make(members);
    } catch (err) {
      net.remove();
      throw err;
    }
    return net;
  }

  private make(members: number): void {
    const names = netnsNames(process.pid);
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridged = true;
    ip('addr', 'add', `${this.prefix}.254/24`, 'dev', this.bridge);
    ip('addr', 'add', `${this.prefix}.253/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let i = 1; i <= members; i++) {
      const ns = names.namespace(i);
      const outer = names.veth(i);
      ip('netns', 'add', ns);
      this.namespaces.push(ns);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', outer, 'master', this.bridge);
      ip('link', 'set', outer, 'up');
      ip('-n', ns, 'addr', 'add', `${this.prefix}.${i}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** peersOf are the addresses member `i` (0-based) talks to: the other members and .253. */
  private peersOf(i: number): string[] {
    return this.namespaces
      .map((_, j) => j)
      .filter((j) => j !== i)
      .map((j) => `${this.prefix}.${j + 1}/32`)
      .concat(`${this.prefix}.253/32`);
  }

  /** partition adds `prohibit` routes in member `i`'s namespace (0-based) to the others and .253: nothing it sends them leaves. */
  partition(i: number): void {
    for (const peer of this.peersOf(i)) ip('-n', this.namespaces[i]!, 'route', 'add', 'prohibit', peer);
  }

  /** heal undoes partition(i). */
  heal(i: number): void {
    for (const peer of this.peersOf(i)) ip('-n', this.namespaces[i]!, 'route', 'del', 'prohibit', peer);
  }

  /** remove deletes the namespaces (their veths go with them) and the bridge; a second call does nothing. */
  remove(): void {
    for (const s of SIGNALS) process.removeListener(s, this.signalled);
    for (const ns of this.namespaces.splice(0))
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    if (this.bridged) {
      this.bridged = false;
      ip('link', 'del', this.bridge);
    }
  }
}
