/**
 * What the caller gives that travels in a header (a put's or delete's `ifMatch`, the token) is
 * checked before anything is sent. A CR or LF in one (a version or token read from a file with
 * CRLF line ends, `$(cat f)` keeping the CR) was refused by undici's HTTP layer after the client
 * counted the request as sent: `distkv set --if-match` exited 1 with "SHARD_UNREACHABLE ...
 * invalid if-match header; the PUT may have been applied", and a token so read gave "no node
 * answered /cluster: invalid authorization header" on every command (exit 1, as for a node down).
 * Now such an ifMatch is INVALID_ARGUMENT (nothing sent; one with only a trailing CR is the
 * version it names), the client refuses such a token when made, and the CLI exits 2 naming
 * --token or DISTKV_TOKEN.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** sent are the key requests the node got: "METHOD url if-match". */
const sent: string[] = [];
let node: HandlerTwin;

before(async () => {
  node = await startOneShardTwin((req, res) => {
    sent.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers['if-match'] ?? '-'}`);
    req.resume().on('end', () => res.writeHead(204, { etag: '"0.2"', 'x-distkv-existed': '1' }).end());
  });
});

after(async () => {
  await node.stop();
});

/** isInvalid checks an INVALID_ARGUMENT whose message matches `pattern`. */
function isInvalid(pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof DistkvError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT', err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('a write condition that cannot be a header', () => {
  it('is refused as INVALID_ARGUMENT before anything is sent, by put and delete', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      for (const bad of ['0.1\r\nX-Evil: 1', 'garbage', '', '"0.1', 'W/"0.1"']) {
        await assert.rejects(
          client.put('k', 'v', { ifMatch: bad }),
          isInvalid(/ifMatch must be a version/),
          bad,
        );
        await assert.rejects(
          client.delete('k', { ifMatch: bad }),
          isInvalid(/ifMatch must be a version/),
          bad,
        );
      }
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('sends a version with a trailing CR (read from a CRLF file) as the version it names', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      await client.put('k', 'v', { ifMatch: '0.1\r' });
      await client.put('k', 'v', { ifMatch: '"0.1"' });
      await client.put('k', 'v', { ifMatch: '*' });
      assert.deepEqual(sent, ['PUT /kv/k "0.1"', 'PUT /kv/k "0.1"', 'PUT /kv/k *']);
    } finally {
      await client.close();
    }
  });

  it('reaches the node from `distkv set --if-match` with a trailing CR, not reported as a write that may have been applied', async () => {
    sent.length = 0;
    const r = await runCli(['set', 'k', 'v', '--if-match', '0.1\r', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /may have been applied/);
    assert.deepEqual(sent, ['PUT /kv/k "0.1"']);
  });
});

describe('a token with a control character', () => {
  it('is refused by the client when made (INVALID_ARGUMENT saying where the character is)', () => {
    assert.throws(
      () => new DistkvClient({ urls: [node.address], token: 'secret\r' }),
      isInvalid(/token holds a CR \(a file with CRLF line ends leaves one\) at offset 6/),
    );
  });

  it('is a usage mistake of `distkv get` naming --token or DISTKV_TOKEN (exit 2), nothing sent', async () => {
    sent.length = 0;
    const flag = await runCli(['get', 'k', '--token', 'secret\r', '--url', node.address]);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /^distkv get: --token holds a CR/);
    const env = await runCli(['get', 'k', '--url', node.address], { DISTKV_TOKEN: 'secret\r' });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /^distkv get: DISTKV_TOKEN holds a CR/);
    assert.deepEqual(sent, []);
  });
});
