/**
 * Measures: the main thread's per-request work before a request reaches a worker: parsing a
 * query string (`?w=1&timeout_ms=500`), checking the key, routing it to its slot and shard
 * (src/routing/shard-map.ts over the seed's 4-shard layout) and encoding it into an operation batch
 * (src/worker/op-codec.ts), for a GET and for a PUT with a 100-byte value.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { checkKey, parseQuery } from '../../../src/http/request-parse.js';
import { ShardMap } from '../../../src/routing/shard-map.js';
import { RequestWriter } from '../../../src/worker/op-codec.js';
import { OP_GET, OP_PUT } from '../../../src/worker/op-format.js';
import { printHeader } from '../header.js';

printHeader('http/request-routing (4 shards)');
const map = new ShardMap(
  [0, 1, 2, 3].map((i) => ({
    name: `shard-${i}`,
    idx: i,
    address: `127.0.0.${i + 2}:8080`,
    replicas: [],
    slots: { first: i * 4096, last: i * 4096 + 4095 },
  })),
);
const keys = Array.from({ length: 1024 }, (_, i) => `user:${String(i * 7919).padStart(10, '0')}`);
const value = Buffer.alloc(100, 97);
const writer = new RequestWriter();
let i = 0;
let id = 0;

bench('GET: check key, route to shard, encode', () => {
  const key = keys[i++ & 1023]!;
  checkKey(key, 1024);
  writer.add(++id, OP_GET, map.shardOf(key), key, undefined);
  if (writer.count >= 64) do_not_optimize(writer.take());
});

bench('PUT ?w=1&timeout_ms=500: parse query, check key, route, encode 100 B', () => {
  const key = keys[i++ & 1023]!;
  const { params } = parseQuery('w=1&timeout_ms=500');
  checkKey(key, 1024);
  writer.add(++id, OP_PUT, map.shardOf(key), key, value, Number(params.get('w')), 500);
  if (writer.count >= 64) do_not_optimize(writer.take());
});

await run();
