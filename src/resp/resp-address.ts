/**
 * Where each node speaks RESP: its config address with the port moved by `server.resp_port_offset`
 * (127.0.0.1:8080 → 127.0.0.1:9080 with the default 1000), and the 40-hex-digit node id that
 * Redis Cluster commands name it by (a digest of its config address, so every node and every
 * restart agrees on it).
 */
import { createHash } from 'node:crypto';
import { parseAddress } from '../config/address.js';

/** RespEndpoint is a node's RESP host and port. */
export interface RespEndpoint {
  host: string;
  port: number;
}

/** respEndpointOf returns the RESP endpoint of node `address`, or undefined when RESP is off (offset 0). */
export function respEndpointOf(address: string, offset: number): RespEndpoint | undefined {
  if (offset === 0) return undefined;
  const a = parseAddress(address);
  if (typeof a === 'string') return undefined;
  return { host: a.host, port: a.port + offset };
}

/** formatEndpoint writes an endpoint as "host:port" ("[v6]:port" for IPv6, as in a URL: `/cluster`). */
export function formatEndpoint(e: RespEndpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** respAddressOf returns node `address`'s RESP address as "host:port", or undefined when RESP is off. */
export function respAddressOf(address: string, offset: number): string | undefined {
  const e = respEndpointOf(address, offset);
  return e === undefined ? undefined : formatEndpoint(e);
}

/**
 * redisEndpoint writes an endpoint as Redis Cluster writes a node in `-MOVED` and CLUSTER NODES:
 * "ip:port" with the ip as it is, an IPv6 one unbracketed ("::1:9080"). Cluster clients split it
 * at its last colon (redis-cli, ioredis); a bracketed host ("[::1]") is not one they can connect to.
 */
export function redisEndpoint(e: RespEndpoint): string {
  return `${e.host}:${e.port}`;
}

/** nodeIdOf returns the Redis Cluster node id (40 hex digits) of node `address`. */
export function nodeIdOf(address: string): string {
  return createHash('sha1').update(`distkv-node ${address}`).digest('hex');
}
