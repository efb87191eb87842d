import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { nodeIdOf, respAddressOf } from '../../src/resp/resp-address.js';

const shards = [{ name: 'shard-0', idx: 0, address: '127.0.0.1:8080', replicas: ['[::1]:65000'] }];

describe('server.resp_port_offset', () => {
  it('defaults to 1000: each node speaks RESP at its port + 1000', () => {
    const config = validateConfig({ shards: [{ ...shards[0], replicas: [] }] }, '<test>');
    assert.equal(config.server.resp_port_offset, 1000);
    assert.equal(respAddressOf('127.0.0.1:8080', 1000), '127.0.0.1:9080');
    assert.equal(respAddressOf('[::1]:8080', 1000), '[::1]:9080');
    assert.equal(respAddressOf('127.0.0.1:8080', 0), undefined);
  });

  it('names the node whose RESP port would leave 1..65535', () => {
    assert.throws(
      () => validateConfig({ shards }, '<test>'),
      /server\.resp_port_offset: node \[::1\]:65000 would get RESP port 66000, outside 1\.\.65535/,
    );
    assert.equal(
      validateConfig({ shards, server: { resp_port_offset: 0 } }, '<test>').server.resp_port_offset,
      0,
    );
    assert.equal(
      validateConfig({ shards, server: { resp_port_offset: -1000 } }, '<test>').server.resp_port_offset,
      -1000,
    );
  });

  it('gives every node a stable 40-hex-digit cluster id', () => {
    assert.match(nodeIdOf('127.0.0.1:8080'), /^[0-9a-f]{40}$/);
    assert.equal(nodeIdOf('127.0.0.1:8080'), nodeIdOf('127.0.0.1:8080'));
    assert.notEqual(nodeIdOf('127.0.0.1:8080'), nodeIdOf('127.0.0.1:8081'));
  });
});
