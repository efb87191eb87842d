/**
 * How many requests of one route a node has answered, from its `distkv_http_requests_total`: a test
 * waits on it for "the node has answered X" (a command's map read, a scan page) instead of a sleep.
 */

/** routeRequests is how many `route` requests (a route label, e.g. "cluster", "kv_scan") `node` has answered, any status. */
export async function routeRequests(node: string, route: string): Promise<number> {
  const text = await (await fetch(`http://${node}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('distkv_http_requests_total{') && line.includes(`route="${route}"`))
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}
