/**
 * The client follows a redirect only to a node of the cluster, under its scheme: a node (hostile,
 * misconfigured, or a man in the middle of a plaintext hop) that points a request elsewhere must
 * not get the bearer token, nor the value, sent there; an https client never follows to http. A
 * node the client's map does not name yet is looked for at every node first (a newer map), so a
 * redirect to a new leader is still followed.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { selfSignedCert } from '../helpers/test-certs.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const TOKEN = 'sekrit';

/** viewWith is a one-shard /cluster document led by `leader` with `replicas`, in map `version`. */
function viewWith(leader: string, replicas: string[], version = 1): string {
  const doc = JSON.parse(oneShardView(leader, version)) as { shards: { replicas: unknown[] }[] };
  doc.shards[0]!.replicas = replicas.map((address) => ({ address }));
  return JSON.stringify(doc);
}

/** Seen is a twin that records the Authorization header of every request it gets. */
interface Seen {
  twin: HandlerTwin;
  auth: string[];
}

async function recorder(answer: RequestListener = (_q, r) => r.writeHead(200).end('v')): Promise<Seen> {
  const auth: string[] = [];
  const twin = await startHandlerTwin((req, res) => {
    auth.push(req.headers.authorization ?? '(none)');
    answer(req, res);
  });
  return { twin, auth };
}

let harvester: Seen;
let member: Seen;
let node: HandlerTwin;
/** redirectTo is where `node` points every /kv request; mapVersion and replicas make its map. */
let redirectTo = '';
let mapVersion = 1;
let replicas: string[] = [];

before(async () => {
  harvester = await recorder();
  member = await recorder();
  node = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster')
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(viewWith(node.address, replicas, mapVersion));
    else res.writeHead(307, { location: `${redirectTo}${req.url ?? ''}` }).end();
  });
});

after(async () => {
  await Promise.all([harvester.twin.stop(), member.twin.stop(), node.stop()]);
});

const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof DistkvError, String(err));
  // Its own code: the configs agree, the redirect's target is what is refused.
  assert.equal(err.code, 'REDIRECT_REFUSED');
  assert.match(err.message, pattern);
  return true;
};

describe('client redirects', () => {
  it('does not follow a redirect to a host that is not a node of the map (no token, no value sent there)', async () => {
    redirectTo = `http://${harvester.twin.address}`;
    replicas = [member.twin.address];
    const client = new DistkvClient({ urls: [node.address], token: TOKEN, retries: 0 });
    try {
      await assert.rejects(client.getString('k'), refused(/is not a node of the cluster's map/));
      await assert.rejects(client.put('k', 'secret value'), refused(/redirected PUT \/kv\/k to http/));
      assert.deepEqual(harvester.auth, [], 'the foreign host got a request');
    } finally {
      await client.close();
    }
  });

  it('a watch does not follow a redirect outside the cluster either (its prefix goes nowhere else)', async () => {
    redirectTo = `http://${harvester.twin.address}`;
    replicas = [member.twin.address];
    harvester.auth.length = 0;
    const client = new DistkvClient({ urls: [node.address], token: TOKEN, retries: 0 });
    const stop = AbortSignal.timeout(10000);
    try {
      await assert.rejects(
        async () => {
          for await (const change of client.watch('secret/', { signal: stop }))
            assert.fail(`a change: ${change.key}`);
        },
        refused(/redirected watch of shards 0 to http/),
      );
      assert.equal(stop.aborted, false, 'the watch was refused, not timed out');
      assert.deepEqual(harvester.auth, [], 'the foreign host got the watch');
    } finally {
      await client.close();
    }
  });

  it('the CLI does not follow it either: exit 1 naming the redirect, nothing sent to the foreign host', async () => {
    redirectTo = `http://${harvester.twin.address}`;
    replicas = [member.twin.address];
    harvester.auth.length = 0;
    const r = await runCli(['set', 'k', 'secret value', '--url', node.address, '--token', TOKEN]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /REDIRECT_REFUSED.*not a node of the cluster's map/);
    assert.deepEqual(harvester.auth, []);
  });

  it('follows a redirect to a node of the map, with the token', async () => {
    redirectTo = `http://${member.twin.address}`;
    replicas = [member.twin.address];
    member.auth.length = 0;
    const client = new DistkvClient({ urls: [node.address], token: TOKEN, retries: 0 });
    try {
      assert.equal(await client.getString('k'), 'v');
      assert.deepEqual(member.auth, [`Bearer ${TOKEN}`]);
    } finally {
      await client.close();
    }
  });

  it('follows a redirect to a node only a newer map names, once it has looked for that map', async () => {
    redirectTo = `http://${member.twin.address}`;
    replicas = [];
    mapVersion = 1;
    member.auth.length = 0;
    const client = new DistkvClient({ urls: [node.address], token: TOKEN, retries: 0 });
    try {
      await client.topology();
      replicas = [member.twin.address];
      mapVersion = 2;
      assert.equal(await client.getString('k'), 'v');
      assert.deepEqual(member.auth, [`Bearer ${TOKEN}`]);
    } finally {
      mapVersion = 1;
      await client.close();
    }
  });

  it('does not follow an https node to http, even to a node of the map', async (t) => {
    const dir = tempDir((fn) => {
      t.after(fn);
    }, 'distkv-redirect-tls-');
    const { cert, key } = selfSignedCert(dir);
    const tlsNode: HttpsServer = createHttpsServer({ cert, key }, (req, res) => {
      if (req.url === '/cluster')
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(viewWith(tlsAddress, [harvester.twin.address]));
      else res.writeHead(307, { location: `http://${harvester.twin.address}${req.url ?? ''}` }).end();
    });
    await new Promise<void>((r) => tlsNode.listen(0, '127.0.0.1', r));
    const tlsAddress = `127.0.0.1:${(tlsNode.address() as AddressInfo).port}`;
    harvester.auth.length = 0;
    const client = new DistkvClient({ urls: [`https://${tlsAddress}`], token: TOKEN, ca: cert, retries: 0 });
    try {
      await assert.rejects(client.getString('k'), refused(/does not follow a redirect to http/));
      assert.deepEqual(harvester.auth, [], 'the token went over plain http');
    } finally {
      await client.close();
      tlsNode.closeAllConnections();
      await new Promise((r) => {
        tlsNode.close(r);
      });
    }
  });
});
