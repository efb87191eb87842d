/**
 * Measures: the main thread's per-request work before a request reaches a worker: parsing a
 * query string (`?w=1&timeout_ms=500`), checking the key, routing it to its slot and shard
 * (src/routing/shard-map.ts over the seed's 4-shard layout) and encoding it into an operation batch
 * (src/worker/op-codec.ts), for a GET and for a PUT with a 100-byte value.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { checkKey, parseQuery } from '../../../src/http/request-parse.js';
import { RequestWriter } from '../../../src/worker/op-codec.js';
import { OP_PUT } from '../../../src/worker/op-format.js';
import { printHeader } from '../header.js';
import { routeGet, seedShardMap, USER_KEYS } from '../routing-fixture.js';

printHeader('http/request-routing (4 shards)');
const map = seedShardMap();
const value = Buffer.alloc(100, 97);
const writer = new RequestWriter();
let i = 0;
let id = 0;

bench('GET: check key, route to shard, encode', routeGet(map));

bench('PUT ?w=1&timeout_ms=500: parse query, check key, route, encode 100 B', () => {
  const key = USER_KEYS[i++ & 1023]!;
  const { params } = parseQuery('w=1&timeout_ms=500');
  checkKey(key, 1024);
  writer.add(++id, OP_PUT, map.shardOf(key), key, value, Number(params.get('w')), 500);
  if (writer.count >= 64) do_not_optimize(writer.take());
});

await run();
