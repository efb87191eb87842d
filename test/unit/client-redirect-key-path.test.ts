/**
 * A redirected key request lands on the very key the caller named. The client follows a 307 to the
 * shard's owner; a URL parser (WHATWG's) reading the `Location` would turn `\` into `/` and drop
 * dot segments (`.`, `..`, also spelt `%2E`), so the key `.` became `/kv/` and `a/../b` became `b`:
 * another key written, read or deleted, answered as if it were the caller's. Here a node redirects
 * every key to an owner twin that stores what it decodes from the path as sent (as a node's
 * request-parse.ts does): the library and the CLI must write, read and delete exactly the key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { portableTarget } from '../../src/http/target-path.js';
import { bytesOfPath } from '../helpers/binary-keys.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

/** KEYS are keys a URL parser rewrites: whole dot segments, dot segments inside, `\`, a `%2E` spelt out. */
const KEYS = ['.', '..', 'a/../b', 'a\\b', 'a/./b', '%2E', '..%2F', '_./.'];

/** keyOf decodes the key of a `/kv/{key}` target byte by byte, as a node does: `%XX` is a byte. */
function keyOf(target: string): string {
  return bytesOfPath(target.slice('/kv/'.length).split('?')[0] ?? '').toString('latin1');
}

/** stored is the owner's store: key (as decoded from the path it got) to value. */
const stored = new Map<string, Buffer>();
let owner: HandlerTwin;
let node: HandlerTwin;
/** locationOf writes the Location `node` answers: as a node writes it, or the raw target. */
let locationOf: (target: string) => string;

before(async () => {
  owner = await startHandlerTwin((req, res) => {
    const key = keyOf(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        stored.set(key, Buffer.concat(chunks));
        res.writeHead(204).end();
      } else if (req.method === 'DELETE') {
        stored.delete(key);
        res.writeHead(204).end();
      } else {
        const v = stored.get(key);
        if (v === undefined)
          res
            .writeHead(404, { 'content-type': 'application/json' })
            .end('{"error":{"code":"KEY_NOT_FOUND","message":"no such key"}}');
        else res.writeHead(200).end(v);
      }
    });
  });
  node = await startHandlerTwin((req, res) => {
    const doc = JSON.parse(oneShardView(node.address)) as { shards: { replicas: unknown[] }[] };
    doc.shards[0]!.replicas = [{ address: owner.address }];
    if (req.url === '/cluster')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    else res.writeHead(307, { location: `http://${owner.address}${locationOf(req.url ?? '')}` }).end();
  });
});

after(async () => {
  await Promise.all([owner.stop(), node.stop()]);
});

/** LOCATIONS are how a redirecting node may write the target: src/http/redirect.ts's way, and the path as it came. */
const LOCATIONS: [string, (target: string) => string][] = [
  ['a node writes it (portableTarget)', (t) => portableTarget(t.split('?')[0]!, t.split('?')[1] ?? '')],
  ['the target as sent', (t) => t],
];

describe('redirected key requests keep their key', () => {
  for (const [how, write] of LOCATIONS) {
    it(`put, get and delete of keys a URL parser rewrites land on those keys (Location as ${how})`, async () => {
      locationOf = write;
      stored.clear();
      const client = new DistkvClient({ urls: [node.address], retries: 0 });
      try {
        for (const key of KEYS) await client.put(key, `v:${key}`);
        assert.deepEqual([...stored.keys()].sort(), [...KEYS].sort());
        for (const key of KEYS) assert.equal(stored.get(key)?.toString(), `v:${key}`, key);
        for (const key of KEYS) assert.equal(await client.getString(key), `v:${key}`, key);
        for (const key of KEYS) await client.delete(key);
        assert.deepEqual([...stored.keys()], []);
      } finally {
        await client.close();
      }
    });
  }

  it('the CLI sets and gets such keys at the owner too', async () => {
    locationOf = LOCATIONS[0]![1];
    stored.clear();
    for (const key of ['.', '..', 'a/../b', 'a\\b']) {
      const set = await runCli(['set', key, `cli:${key}`, '--url', node.address]);
      assert.equal(set.code, 0, set.stderr);
      assert.equal(stored.get(key)?.toString(), `cli:${key}`, key);
      const got = await runCli(['get', key, '--url', node.address]);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout.trimEnd(), `cli:${key}`);
    }
    assert.equal(stored.size, 4);
  });
});
