/**
 * `distkv bench --config FILE` of a TLS cluster (server.tls_cert, docs/operations.md "TLS and token
 * rotation") is refused at once, exit 2, naming the cause: the load threads speak plain HTTP and
 * RESP only. It asked the nodes over http:// and failed with "no node answered /cluster ... other
 * side closed ... not a distkv node's HTTP address", which named no cause.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

describe('distkv bench --config of a TLS cluster', () => {
  it('is refused before any node is asked, naming TLS, exit 2', async () => {
    const file = join(dir, 'tls.toml');
    // Nothing listens at port 1; the certificate files are never read.
    writeFileSync(
      file,
      `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "127.0.0.1:1"\nreplicas = []\n\n` +
        `[server]\ntls_cert = "${join(dir, 'node.pem')}"\ntls_key = "${join(dir, 'node-key.pem')}"\n`,
    );
    const r = await runCli(['bench', '--config', file, '--duration', '1', '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.split('\n')[0],
      `distkv bench: --config ${file}: its nodes serve HTTPS (server.tls_cert), and distkv bench speaks plain HTTP and RESP only: bench a node without TLS`,
    );
  });
});
