/**
 * Host keys: one text per host, so that two spellings of one node compare equal. Host names are
 * not case-sensitive, and an IPv6 address has many spellings (`0:0:0:0:0:0:0:1`, `0::1` and `::1`
 * are one address, which the listener binds alike). A node is still named by its config text
 * (store directories, routing, epoch member order: address.ts); the key is for deciding whether
 * two texts, or a text and an interface address, are one host.
 */
import { isIPv6 } from 'node:net';

/**
 * hostKey returns `host` (no brackets) in one spelling: lower case, an IPv6 address as a WHATWG URL
 * writes it (`0::1` → `::1`). A host without a colon is not IPv6 and skips `isIPv6`, whose first call
 * compiles node:net's IPv6 pattern: 17-46 ms of a process's start for every config check, which
 * every IPv4 or named host paid for nothing.
 */
export function hostKey(host: string): string {
  const h = host.toLowerCase();
  return h.includes(':') && isIPv6(h) ? new URL(`http://[${h}]/`).hostname.slice(1, -1) : h;
}
