/**
 * A node is on this machine whatever spelling of its host the config uses (src/server/node-plan.ts,
 * `selectNodes`; src/config/host-key.ts). Before, an IPv6 loopback written other than `::1`
 * (`[0::1]:p`, `[0:0:0:0:0:0:0:1]:p`, listened on alike) was not hosted by `distkv serve` without
 * `--node`: the process served the shard's leader and no one served that replica (w=1 writes
 * timed out), or it refused to start ("no node of this config is on this machine").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { hostKey } from '../../src/config/host-key.js';
import { selectNodes } from '../../src/server/node-plan.js';

/** oneShard is a config of one shard led by `leader` with `replicas`. */
function oneShard(leader: string, replicas: readonly string[]) {
  return parseConfigText(
    `[[shards]]\nname = "s"\nidx = 0\naddress = "${leader}"\nreplicas = [${replicas.map((r) => `"${r}"`).join(', ')}]\n`,
    't.toml',
    {},
    {},
  );
}

describe('a node recognizes its host in any spelling', () => {
  it('hosts every IPv6 loopback spelling, and a local address written in upper case', () => {
    const config = oneShard('[::1]:26001', ['[0::1]:26002', '[0:0:0:0:0:0:0:1]:26003', '[::0:1]:26004']);
    assert.deepEqual(selectNodes(config, []), [
      '[::1]:26001',
      '[0::1]:26002',
      '[0:0:0:0:0:0:0:1]:26003',
      '[::0:1]:26004',
    ]);
    const lan = oneShard('[FE80::AB:1]:26005', ['[fe80:0::ab:2]:26006', '10.9.9.9:26007']);
    assert.deepEqual(selectNodes(lan, [], new Set(['fe80::ab:1', 'fe80::ab:2'])), [
      '[FE80::AB:1]:26005',
      '[fe80:0::ab:2]:26006',
    ]);
  });

  it('writes a host key in one spelling', () => {
    assert.equal(hostKey('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(hostKey('FE80:0:0::AB:1'), 'fe80::ab:1');
    assert.equal(hostKey('LocalHost'), 'localhost');
    assert.equal(hostKey('127.0.0.1'), '127.0.0.1');
  });
});
