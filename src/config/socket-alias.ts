/**
 * Socket aliases: two node addresses with different hosts that name one listening socket, so the
 * two nodes could never both listen (the second failed at start with "the port is in use (is
 * another distkv ... running there?)", though no other server was there). Known without a lookup,
 * on every machine: `localhost` is the loopback address 127.0.0.1 or ::1, and a wildcard host
 * (0.0.0.0, or :: which also takes IPv4) holds its port on every address of the machine, loopback
 * ones included. Other host names would need a DNS lookup, which the config check does not make.
 * Hosts are compared as host keys (host-key.ts), so spellings of one host are not aliases here
 * (validate-config.ts, checkSpellings, reports those).
 */
import { type NodeAddress, parseAddress } from './address.js';
import { hostKey } from './host-key.js';

/** LOCALHOST_ADDRESSES are what `localhost` resolves to: one of them, whichever the machine lists first. */
const LOCALHOST_ADDRESSES = ['127.0.0.1', '::1'];

/**
 * socketAlias says why `a` and `b` (different hosts) are one listening socket, as a clause for a
 * message ("localhost is 127.0.0.1 or ::1"), or returns undefined when they are not (or it cannot
 * be known without a lookup).
 */
export function socketAlias(a: NodeAddress, b: NodeAddress): string | undefined {
  if (a.port !== b.port) return undefined;
  const [x, y] = [hostKey(a.host), hostKey(b.host)];
  if (x === y) return undefined;
  for (const [h, other] of [
    [x, y],
    [y, x],
  ] as const) {
    if (h === 'localhost' && LOCALHOST_ADDRESSES.includes(other))
      return `localhost is ${LOCALHOST_ADDRESSES.join(' or ')}`;
    if (h === '0.0.0.0' && (other === 'localhost' || isIpv4Loopback(other)))
      return `0.0.0.0 listens on every IPv4 address of the machine, ${other} among them`;
    if (
      h === '::' &&
      (other === 'localhost' || other === '::1' || isIpv4Loopback(other) || other === '0.0.0.0')
    )
      return `:: listens on every address of the machine, ${other} among them`;
  }
  return undefined;
}

function isIpv4Loopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** NodeField is a node address as a config writes it, and the field it is written in (`shards[1].address`). */
export interface NodeField {
  field: string;
  text: string;
}

/** ALIAS_HOSTS are the host keys an alias can involve, besides IPv4 loopback addresses (socketAlias). */
const ALIAS_HOSTS = new Set(['localhost', '0.0.0.0', '::', ...LOCALHOST_ADDRESSES]);

/** Candidate is a node that later ones on its port are compared with. */
type Candidate = NodeField & { addr: NodeAddress };

/**
 * socketAliasProblems reports each node address that names the listening socket of an earlier,
 * different one (`socketAlias`), in the field of the later one; malformed addresses are skipped
 * (they are reported on their own). Linear in the nodes: whether two addresses alias depends only
 * on their port and host keys, and every alias is between two hosts of ALIAS_HOSTS or IPv4
 * loopback ones, so each port keeps as candidates the first node of each ALIAS_HOSTS key and the
 * first of any other IPv4 loopback, in the order they came (a Map's); the earliest candidate that
 * aliases is the earliest node that does.
 */
export function socketAliasProblems(nodes: readonly NodeField[]): NodeField[] {
  const out: NodeField[] = [];
  const candidates = new Map<number, Map<string, Candidate>>();
  for (const { field, text } of nodes) {
    const addr = parseAddress(text);
    if (typeof addr === 'string') continue;
    const key = hostKey(addr.host);
    const slot = ALIAS_HOSTS.has(key) ? key : isIpv4Loopback(key) ? '127/8' : undefined;
    if (slot === undefined) continue;
    const onPort = candidates.get(addr.port) ?? new Map<string, Candidate>();
    candidates.set(addr.port, onPort);
    for (const before of onPort.values()) {
      const why = socketAlias(before.addr, addr);
      if (why === undefined) continue;
      out.push({
        field,
        text: `"${text}" and "${before.text}" (${before.field}) are one listening socket (${why}): the two nodes cannot both listen there; give them different ports, or write the node one way`,
      });
      break;
    }
    if (!onPort.has(slot)) onPort.set(slot, { field, text, addr });
  }
  return out;
}
