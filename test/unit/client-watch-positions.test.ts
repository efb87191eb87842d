/**
 * Where the client library's watch says it stands (src/client/watch.ts): the cursor of every event
 * names every shard, those whose node has not answered yet at the position `from` gave them (a
 * resume must not start them at "now"), and with `progress: true` the watch also yields the
 * positions a stream reports between changes (its `hello`, its `progress`), in order with them.
 * Each node here is a small node:http server that plays the part of a real one.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { watchPrefix, type WatchChange, type WatchOptions } from '../../src/client/watch.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  BINARY_MEDIA_TYPE,
  changeFrames,
  jsonFrame,
  KEEPALIVE_FRAMES,
} from '../../src/watch/watch-binary-format.js';
import { freePorts } from '../helpers/ports.js';
import { fixedSource } from '../helpers/watch-source.js';

const RECORDS: LogRecord[] = [
  { kind: 'put', seq: 7, key: Buffer.from('w/a'), value: Buffer.from('one') },
  { kind: 'put', seq: 8, key: Buffer.from('w/b'), value: Buffer.from('two') },
];

/**
 * node starts a node on `port` leading shard 0 that answers /watch (binary stream, version 2) with
 * `hello` at 0:2.6, the two changes, then each of `after` (JSON events), and keeps the stream open.
 */
async function node(port: number, after: string[]): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': `${BINARY_MEDIA_TYPE}; version=2` });
    res.write(Buffer.from([2]));
    res.write(
      Buffer.concat([
        jsonFrame('{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:2.6"}', 2),
        KEEPALIVE_FRAMES[2],
      ]),
    );
    res.write(changeFrames(RECORDS, 0, Buffer.from('w/'), true, () => 2, 2));
    for (const json of after) res.write(jsonFrame(json, 2));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** events watches `w/` over `map` and returns the first `n` events (fewer if 5 s pass first). */
async function events(map: ShardMap, n: number, options: WatchOptions): Promise<WatchChange[]> {
  const source = fixedSource(map);
  const out: WatchChange[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => {
    stop.abort();
  }, 5000);
  try {
    for await (const ev of watchPrefix(source, 'w/', { ...options, signal: stop.signal })) {
      out.push(ev);
      if (out.length === n) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** shardMap puts shard 0 on `first` and, when given, shard 1 on `second`. */
function shardMap(first: number, second?: number): ShardMap {
  if (second === undefined)
    return new ShardMap([
      { name: 's0', idx: 0, address: `127.0.0.1:${first}`, replicas: [], slots: { first: 0, last: 16383 } },
    ]);
  return new ShardMap([
    { name: 's0', idx: 0, address: `127.0.0.1:${first}`, replicas: [], slots: { first: 0, last: 8191 } },
    { name: 's1', idx: 1, address: `127.0.0.1:${second}`, replicas: [], slots: { first: 8192, last: 16383 } },
  ]);
}

const view = (c: WatchChange): string => `${c.type} ${c.key ?? '-'} ${c.cursor}`;

describe('client watch positions', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
  });

  it("names a shard whose node has not answered at the position `from` gave it, so a resume starts it there, not at 'now'", async () => {
    // Shard 1's node is down (nothing listens on its port): the watch keeps trying it.
    const [up, down] = (await freePorts(2)) as [number, number];
    servers.push(await node(up, []));
    const got = await events(shardMap(up, down), 2, { from: '2.6' });
    assert.deepEqual(got.map(view), ['put w/a 0:2.7,1:2.6', 'put w/b 0:2.8,1:2.6']);
  });

  it('names a shard given its own start in `from` likewise, and leaves a shard starting "now" out', async () => {
    const [up, down] = (await freePorts(2)) as [number, number];
    servers.push(await node(up, []));
    const named = await events(shardMap(up, down), 1, { from: '0:2.6,1:5.40' });
    assert.deepEqual(named.map(view), ['put w/a 0:2.7,1:5.40']);
    const now = await events(shardMap(up, down), 1, { from: '0:2.6' });
    assert.deepEqual(now.map(view), ['put w/a 0:2.7']);
  });

  it('with progress: true, yields the positions a stream reports after its last change, in order, each once', async () => {
    const [port] = (await freePorts(1)) as [number];
    servers.push(
      await node(port, [
        '{"type":"progress","cursor":"0:2.12"}',
        '{"type":"progress","cursor":"0:2.12"}',
        '{"type":"progress","cursor":"0:2.15"}',
      ]),
    );
    const got = await events(shardMap(port), 4, { from: '0:2.6', progress: true });
    assert.deepEqual(got.map(view), [
      'put w/a 0:2.7',
      'put w/b 0:2.8',
      'progress - 0:2.12',
      'progress - 0:2.15',
    ]);
    assert.ok(got.filter((e) => e.type === 'progress').every((e) => e.shard === -1));
  });

  it('without progress: true, yields only the changes', async () => {
    const [port] = (await freePorts(1)) as [number];
    servers.push(await node(port, ['{"type":"progress","cursor":"0:2.12"}']));
    const got = await events(shardMap(port), 3, { from: '0:2.6' });
    assert.deepEqual(got.map(view), ['put w/a 0:2.7', 'put w/b 0:2.8']);
  });
});
