/**
 * A watch against a node whose redirects (307) are broken or hostile (a fake node: a node:http
 * server on loopback), as hostile-peer-redirect.test.ts for the other calls. A `Location` that is
 * not a URL ends the watch with REDIRECT_REFUSED naming the node and the watch; before, the parse's
 * bare TypeError ("Invalid URL") was taken for a network failure and the watch retried it for ever.
 * One that names no host (`javascript:`), one off the cluster's map and one in another scheme are
 * refused unsent (held before too).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { FakePeers, redirectingNode, watchError } from '../helpers/fake-peer.js';

const peers = new FakePeers();

after(() => peers.close());

const cases: [string, (a: string) => string, RegExp][] = [
  [
    'a Location that is not a URL',
    () => 'http://[zz',
    /to "http:\/\/\[zz", not followed: that is not the URL of a node/,
  ],
  [
    'a javascript: Location',
    () => 'javascript:alert(1)',
    /to "javascript:alert\(1\)", not followed: that is not the URL of a node/,
  ],
  [
    'a Location off the cluster (holds)',
    () => 'http://192.0.2.1:7000/watch',
    /to http:\/\/192\.0\.2\.1:7000, not followed: 192\.0\.2\.1:7000 is not a node of the cluster's map/,
  ],
  ['a Location in another scheme (holds)', (a) => `ftp://${a}/watch`, /not followed: the client talks http/],
];

describe('a watch redirected by a broken or hostile node', () => {
  for (const [what, location, why] of cases)
    it(`ends with REDIRECT_REFUSED on ${what}, naming the node and the watch`, async () => {
      const node = await redirectingNode(peers, location);
      const client = new DistkvClient({ urls: [`http://${node}`], timeoutMs: 2000, retries: 0 });
      const stop = AbortSignal.timeout(5000);
      try {
        const err = await watchError(client, stop);
        assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
        assert.equal(err.code, 'REDIRECT_REFUSED');
        assert.match(
          err.message,
          new RegExp(`^(http://)?${node.replaceAll('.', '\\.')} redirected watch of shards 0 to `),
        );
        assert.match(err.message, why);
        assert.equal(stop.aborted, false, 'refused, not timed out');
      } finally {
        await client.close();
      }
    });
});
