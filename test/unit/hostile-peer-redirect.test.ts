/**
 * The client against a node whose redirects (307) are broken or hostile (a fake node: a node:http
 * server on loopback). A `Location` that is not a URL, or names no host (`javascript:`), is
 * REDIRECT_REFUSED naming the node and the request; before, the parse's bare TypeError ("Invalid
 * URL") named neither. One off the cluster's map (another address) or in another scheme is
 * refused unsent (held before too).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { FakePeers, redirectingNode } from '../helpers/fake-peer.js';

const peers = new FakePeers();

after(() => peers.close());

const cases: [string, (a: string) => string, (a: string) => RegExp][] = [
  [
    'a Location that is not a URL',
    () => 'http://[zz',
    () => /to "http:\/\/\[zz", not followed: that is not the URL of a node/,
  ],
  [
    'a javascript: Location',
    () => 'javascript:alert(1)',
    () => /to "javascript:alert\(1\)", not followed: that is not the URL of a node/,
  ],
  [
    'a Location off the cluster (holds)',
    () => 'http://192.0.2.1:7000/kv/foo',
    () => /to http:\/\/192\.0\.2\.1:7000, not followed: 192\.0\.2\.1:7000 is not a node of the cluster's map/,
  ],
  [
    'a Location in another scheme (holds)',
    (a) => `ftp://${a}/kv/foo`,
    () => /not followed: the client talks http to the cluster's nodes/,
  ],
];

describe('a client redirected by a broken or hostile node', () => {
  for (const [what, location, why] of cases)
    it(`refuses ${what}, naming the node and the request`, async () => {
      const node = await redirectingNode(peers, location);
      const client = new DistkvClient({ urls: [`http://${node}`], timeoutMs: 2000, retries: 0 });
      try {
        const err = await client.get('foo').then(
          () => assert.fail('the get was answered'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
        assert.equal(err.code, 'REDIRECT_REFUSED');
        assert.ok(err.message.startsWith(`http://${node} redirected GET /kv/foo to `), err.message);
        assert.match(err.message, why(node));
      } finally {
        await client.close();
      }
    });
});
