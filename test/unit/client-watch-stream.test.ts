/**
 * The client library's watch (src/client/watch.ts) reads whichever stream a node answers with:
 * it asks for the binary stream's version 2 and gets the same changes from a node that sends it
 * as from an older node that sends only version 1 and from one without the binary stream that
 * answers Server-Sent Events, values byte for byte.
 * Each node here is a small node:http server that plays the part of a real one.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { watchPrefix, type WatchChange } from '../../src/client/watch.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  BINARY_MEDIA_TYPE,
  changeFrames,
  jsonFrame,
  KEEPALIVE_FRAMES,
  type StreamVersion,
} from '../../src/watch/watch-binary-format.js';
import { sharedBlock, sseFrame } from '../../src/watch/watch-event.js';
import { freePorts } from '../helpers/ports.js';
import { fixedSource } from '../helpers/watch-source.js';

const RECORDS: LogRecord[] = [
  { kind: 'put', seq: 7, key: Buffer.from('w/a'), value: Buffer.from('one') },
  { kind: 'put', seq: 8, key: Buffer.from('w/b'), value: Buffer.from([0xff, 0x00, 0x0a]) },
  { kind: 'delete', seq: 9, key: Buffer.from('w/a'), value: undefined },
];
const HELLO = '{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:0.6"}';

/**
 * node starts a one-shard node on `port` that answers /watch with the binary stream up to version
 * `binary` (0: none, SSE only), as it was asked; it records each Accept.
 */
async function node(port: number, binary: 0 | StreamVersion, accepts: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const accept = req.headers.accept ?? '';
    accepts.push(accept);
    if (binary > 0 && accept.includes(BINARY_MEDIA_TYPE)) {
      const version: StreamVersion = binary === 2 && accept.includes('version=2') ? 2 : 1;
      res.writeHead(200, { 'content-type': `${BINARY_MEDIA_TYPE}; version=${version}` });
      res.write(Buffer.from([version]));
      res.write(Buffer.concat([jsonFrame(HELLO, version), KEEPALIVE_FRAMES[version]]));
      res.write(changeFrames(RECORDS, 0, Buffer.from('w/'), true, () => 2, version));
    } else {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseFrame(HELLO, 'hello', '0:0.6'));
      res.write(sharedBlock(RECORDS, 0, Buffer.from('w/'), true, 'sse', () => 2));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** firstChanges watches `w/` on the node at `port` until three changes came. */
async function firstChanges(port: number): Promise<WatchChange[]> {
  const map = new ShardMap([
    { name: 's0', idx: 0, address: `127.0.0.1:${port}`, replicas: [], slots: { first: 0, last: 16383 } },
  ]);
  const source = fixedSource(map);
  const out: WatchChange[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => {
    stop.abort();
  }, 20000);
  for await (const ev of watchPrefix(source, 'w/', { from: '0:2.6', signal: stop.signal })) {
    out.push(ev);
    if (out.length === 3) break;
  }
  clearTimeout(timer);
  return out;
}

describe('client watch: binary stream and SSE', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
  });

  it('yields the same changes from nodes with binary stream version 2, version 1 only and SSE only', async () => {
    const [binPort, v1Port, ssePort] = (await freePorts(3)) as [number, number, number];
    const binAccepts: string[] = [];
    const sseAccepts: string[] = [];
    servers.push(
      await node(binPort, 2, binAccepts),
      await node(v1Port, 1, []),
      await node(ssePort, 0, sseAccepts),
    );
    const fromBinary = await firstChanges(binPort);
    const fromV1 = await firstChanges(v1Port);
    const fromSse = await firstChanges(ssePort);
    assert.ok(
      binAccepts[0]?.includes(`${BINARY_MEDIA_TYPE}; version=2`),
      'the client asks for the binary stream, version 2',
    );
    assert.ok(sseAccepts[0]?.includes('text/event-stream'), 'and accepts SSE');
    const view = (c: WatchChange): string =>
      `${c.type} ${c.shard} ${c.key ?? ''} ${c.version ?? ''} ${c.value?.toString('hex') ?? '-'} ${c.cursor}`;
    assert.deepEqual(fromBinary.map(view), [
      'put 0 w/a 2.7 6f6e65 0:2.7',
      'put 0 w/b 2.8 ff000a 0:2.8',
      'delete 0 w/a 2.9 - 0:2.9',
    ]);
    assert.deepEqual(fromV1.map(view), fromBinary.map(view));
    assert.deepEqual(fromSse.map(view), fromBinary.map(view));
  });
});
