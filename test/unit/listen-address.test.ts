/**
 * `--listen` (src/server/listen-address.ts): refused, as CONFIG_INVALID naming --listen, when it
 * is another node's config address or a socket of it (a node there redirected that node's
 * requests to itself); a wildcard, another host, or another node's port on another host is fine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { ConfigError } from '../../src/errors.js';
import { listenAddress } from '../../src/server/listen-address.js';

function config(shards: { address: string; replicas: string[] }[]): Config {
  return validateConfig(
    { shards: shards.map((s, idx) => ({ name: `shard-${String(idx)}`, idx, ...s })) },
    'test',
  );
}

const LOCAL = config([
  { address: '127.0.0.1:7001', replicas: ['127.0.0.1:7002'] },
  { address: '127.0.0.1:7002', replicas: ['127.0.0.1:7001'] },
]);
const HOSTS = config([
  { address: '10.0.0.1:8080', replicas: ['10.0.0.2:8080'] },
  { address: '10.0.0.2:8080', replicas: ['10.0.0.1:8080'] },
]);

function refusal(c: Config, hosted: string[], listen: string): string {
  try {
    listenAddress(c, hosted, listen);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err.message;
  }
  return assert.fail(`--listen ${listen} for ${hosted.join(', ')} was taken`);
}

describe('listenAddress', () => {
  it("refuses another node's config address, naming both nodes", () => {
    const m = refusal(LOCAL, ['127.0.0.1:7001'], '127.0.0.1:7002');
    assert.match(
      m,
      /--listen 127\.0\.0\.1:7002 is the address of node 127\.0\.0\.1:7002 of the config, not of node 127\.0\.0\.1:7001/,
    );
    assert.match(m, /redirect .* to itself/);
  });

  it("refuses another spelling or a socket of another node's address", () => {
    assert.match(refusal(LOCAL, ['127.0.0.1:7001'], 'localhost:7002'), /a socket \(localhost is/);
    assert.match(refusal(LOCAL, ['127.0.0.1:7001'], '0.0.0.0:7002'), /a socket \(0\.0\.0\.0 listens/);
    assert.match(refusal(LOCAL, ['127.0.0.1:7001'], '[::]:7002'), /a socket \(:: listens/);
  });

  it("takes a wildcard, its own address, or another node's port on another host", () => {
    assert.deepEqual(listenAddress(HOSTS, ['10.0.0.1:8080'], '0.0.0.0:8080'), {
      host: '0.0.0.0',
      port: 8080,
    });
    assert.deepEqual(listenAddress(HOSTS, ['10.0.0.1:8080'], '[::]:8080'), { host: '::', port: 8080 });
    assert.deepEqual(listenAddress(HOSTS, ['10.0.0.1:8080'], '10.0.0.1:8080'), {
      host: '10.0.0.1',
      port: 8080,
    });
    assert.deepEqual(listenAddress(LOCAL, ['127.0.0.1:7001'], '127.0.0.1:7003'), {
      host: '127.0.0.1',
      port: 7003,
    });
    assert.deepEqual(listenAddress(LOCAL, ['127.0.0.1:7001'], '0.0.0.0:7001'), {
      host: '0.0.0.0',
      port: 7001,
    });
  });

  it('refuses a bad address, and more or fewer than one node', () => {
    assert.match(refusal(LOCAL, ['127.0.0.1:7001'], 'nope'), /--listen nope: expected "host:port"/);
    assert.match(
      refusal(LOCAL, ['127.0.0.1:7001', '127.0.0.1:7002'], '127.0.0.1:7003'),
      /exactly one --node/,
    );
  });
});
