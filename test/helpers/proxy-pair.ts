/**
 * The connection pair of a test proxy: a client's connection and the one the proxy opens to its
 * target for it, tracked in the proxy's set until either ends, which ends both.
 */
import { connect, type Socket } from 'node:net';

/** ProxyPair is the upstream connection of a client's; `end` destroys both and forgets them. */
export interface ProxyPair {
  upstream: Socket;
  end: () => void;
}

/**
 * pairUpstream connects `client` on to host:port, both kept in `sockets` until either closes or
 * fails; with `upstreamCloseMs`, the upstream's close ends the pair that much later (a proxy that
 * still has its chunks to forward).
 */
export function pairUpstream(
  client: Socket,
  host: string,
  port: number,
  sockets: Set<Socket>,
  upstreamCloseMs?: number,
): ProxyPair {
  const upstream = connect({ host, port, noDelay: true });
  sockets.add(client).add(upstream);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', () => {
    if (upstreamCloseMs === undefined) end();
    else setTimeout(end, upstreamCloseMs);
  });
  return { upstream, end };
}
