/**
 * Node addresses: "host:port" strings as the seed's sharding.toml writes them ("127.0.0.2:8080"),
 * with IPv6 hosts in brackets ("[::1]:8080"). An address names a node by its text (store
 * directories, routing, the member order of epoch numbers), so one node has one spelling: a port
 * with leading zeros ("08080", the port 8080 written another way) is refused, as are letter cases
 * that differ (validate-config.ts, checkSpellings).
 */
import { isIPv6 } from 'node:net';

/** NodeAddress is a parsed "host:port". `host` has no brackets. */
export interface NodeAddress {
  host: string;
  port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** parseAddress parses "host:port"; it returns a reason string when the address is malformed. */
export function parseAddress(text: string): NodeAddress | string {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return 'expected "[ipv6]:port"';
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!IPV6.test(host) || !isIPv6(host)) return `"${host}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return 'expected "host:port"';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return 'IPv6 hosts must be in brackets, as "[::1]:8080"';
    if (/^[\d.]+$/.test(host) ? !IPV4.test(host) : !HOSTNAME.test(host))
      return `"${host}" is not a valid host`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `port "${portText}" is not a number`;
  if (/^0\d/.test(portText))
    return `port "${portText}" has leading zeros: write it as ${Number(portText)} (the address names the node, and one node has one spelling)`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${port} is outside 1..65535`;
  return { host, port };
}

/**
 * nodeAddressProblem says what is wrong with `text` as a node's address in sharding.toml, or
 * undefined: what parseAddress refuses, and the unspecified address (0.0.0.0, ::), which names no
 * node: such a node started and advertised it, and its redirects and `/cluster` sent clients and
 * peers to 0.0.0.0. A bind on every interface is `--listen`'s.
 */
export function nodeAddressProblem(text: string): string | undefined {
  const addr = parseAddress(text);
  if (typeof addr === 'string') return addr;
  if (addr.host !== '0.0.0.0' && addr.host !== '::') return undefined;
  return `${addr.host} names no host: a node's address is where clients and the other nodes reach it (redirects and /cluster carry it); write that address here, and to listen on every interface start the node with --listen ${formatAddress({ host: addr.host, port: addr.port })}`;
}

/** formatAddress turns a NodeAddress back into "host:port" (brackets around IPv6 hosts). */
export function formatAddress(addr: NodeAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** boundLabel names the address `bound` listens on for node `address`: the node's own, or the `--listen` one with the node's. */
export function boundLabel(bound: NodeAddress, address: string): string {
  const b = formatAddress(bound);
  return b === address ? address : `${b} (--listen, for node ${address})`;
}

/** isLoopbackHost reports whether a host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
