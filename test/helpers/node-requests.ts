/**
 * Requests the e2e tests send straight to one node of a spawned cluster (no client library: no
 * routing, no retries), each bounded by REQUEST_MS: a write whose answer
 * is checked or returned, the keys a node serves from its own store, and the /stats entries of a
 * shard's stores on a node's process.
 */
import assert from 'node:assert/strict';

/** REQUEST_MS bounds each request (a node that stopped answering fails the test instead of holding it). */
const REQUEST_MS = 10000;

/** put sends one PUT of `key` at `node` with the query `q` (e.g. `?w=1&timeout_ms=5000`). */
function put(node: string, key: string, q: string, value: string): Promise<Response> {
  return fetch(`http://${node}/kv/${key}${q}`, {
    method: 'PUT',
    body: value,
    signal: AbortSignal.timeout(REQUEST_MS),
  });
}

/** putStatus writes `key` at `node` (value `v-KEY` unless given; `q` as for put) and returns the status. */
export async function putStatus(node: string, key: string, q = '', value = `v-${key}`): Promise<number> {
  const r = await put(node, key, q, value);
  await r.arrayBuffer();
  return r.status;
}

/** putOk writes as putStatus does and checks the write was acknowledged (204), naming the answer otherwise. */
export async function putOk(node: string, key: string, q = '', value = `v-${key}`): Promise<void> {
  const r = await put(node, key, q, value);
  assert.equal(r.status, 204, `PUT ${key} at ${node}: ${String(r.status)} ${await r.text()}`);
}

/**
 * keysAt lists, sorted, the keys (up to 1000) a node serves from its own store (a replica's
 * address serves its replica); `HTTP <status>` alone when the node refuses the scan.
 */
export async function keysAt(node: string): Promise<string[]> {
  const r = await fetch(`http://${node}/kv?prefix=&limit=1000`, { signal: AbortSignal.timeout(REQUEST_MS) });
  if (r.status !== 200) return [`HTTP ${String(r.status)}`];
  const page = (await r.json()) as { items: { key: string }[] };
  return page.items.map((i) => i.key).sort();
}

/** waitKeys waits up to 15 s for `node` to serve `want` (keysAt), and returns what it serves then. */
export async function waitKeys(node: string, want: string[]): Promise<string[]> {
  let got: string[] = [];
  for (let t = 0; t < 150; t++) {
    got = await keysAt(node);
    if (JSON.stringify(got) === JSON.stringify(want)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

/** shardStoresAt is the /stats entries of `shard`'s stores on `node`'s process, by the node each belongs to. */
export async function shardStoresAt(
  node: string,
  shard = 'shard-0',
): Promise<Map<string, Record<string, unknown>>> {
  const r = await fetch(`http://${node}/stats`, { signal: AbortSignal.timeout(REQUEST_MS) });
  const body = (await r.json()) as { stores: Record<string, unknown>[] };
  return new Map(body.stores.filter((s) => s.name === shard).map((s) => [s.node as string, s]));
}
