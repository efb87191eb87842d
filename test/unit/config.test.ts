import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig, parseConfigText } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';
import { ShardMap } from '../../src/routing/shard-map.js';

const configPath = (name: string): string =>
  fileURLToPath(new URL(`../../../config/${name}`, import.meta.url));

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'test.toml', {}, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it("loads the seed's sharding.toml unchanged: 4 shards, 6 replicas, default settings", () => {
    const c = loadConfig(configPath('sharding.toml'), {}, {});
    assert.equal(c.shards.length, 4);
    assert.deepEqual(c.shards[0]!.replicas, ['127.0.0.22:8080', '127.0.0.23:8080']);
    assert.equal(c.storage.durability, 'fsync');
    assert.equal(c.server.max_value_bytes, 1048576);
    assert.deepEqual(
      c.shards.map((s) => [s.slots.first, s.slots.last]),
      [
        [0, 4095],
        [4096, 8191],
        [8192, 12287],
        [12288, 16383],
      ],
    );
  });

  it('says in words why a config file cannot be read (no such file, a directory)', () => {
    for (const [path, words] of [
      [configPath('no-such-file.toml'), 'no such file or directory'],
      [configPath(''), 'it is a directory'],
    ] as const) {
      assert.throws(
        () => loadConfig(path, {}, {}),
        (err: unknown) =>
          err instanceof ConfigError && err.problems.some((p) => p === `cannot read the file: ${words}`),
      );
    }
  });

  it('loads config/default.toml and config/example.toml', () => {
    const d = loadConfig(configPath('default.toml'), {}, {});
    assert.ok(d.shards.every((s) => s.address === '127.0.0.1:8080' && s.replicas[0] === '127.0.0.1:8081'));
    const e = loadConfig(configPath('example.toml'), {}, {});
    assert.equal(e.shards.length, 2);
  });

  it('reports every bad field at once, naming the field and what was expected', () => {
    const problems = problemsOf(`
[[shards]]
name = "a"
idx = 0
address = "127.0.0.1:8080"
replicas = ["127.0.0.1:8080", "nope"]

[[shards]]
name = "b"
idx = 0
address = "127.0.0.1:99999"

[[shards]]
name = "c/d"
idx = 3
address = "127.0.0.1:8082"

[server]
workers = -1
colour = "blue"

[storage]
durability = "sometimes"
`);
    const text = problems.join('\n');
    for (const needle of [
      'shards[0].replicas[0]: "127.0.0.1:8080" is the shard\'s own leader address',
      'shards[0].replicas[1]: "nope": expected "host:port"',
      'shards[1].idx: duplicate idx 0',
      'shards[1].address: "127.0.0.1:99999": port 99999 is outside 1..65535',
      'shards[2].name: "c/d" must be',
      'no shard has idx 1',
      'server.workers: expected an integer in 0..256, got -1',
      'server.colour: unknown setting',
      'storage.durability: expected one of "fsync", "interval", "none", got "sometimes"',
    ]) {
      assert.ok(text.includes(needle), `missing problem: ${needle}\n--- got:\n${text}`);
    }
  });

  it('bounds server.max_connections to 1..1000000, 10000 (Redis maxclients) by default', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    assert.equal(parseConfigText(seed, 't.toml', {}, {}).server.max_connections, 10000);
    assert.equal(
      parseConfigText(`${seed}[server]\nmax_connections = 3\n`, 't.toml', {}, {}).server.max_connections,
      3,
    );
    assert.ok(
      problemsOf(`${seed}[server]\nmax_connections = 0\n`).includes(
        'server.max_connections: expected an integer in 1..1000000, got 0',
      ),
    );
  });

  it('bounds server.max_unsent_bytes to 0 (no limit)..2^50, 1 GiB (Redis maxmemory-clients) by default', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    assert.equal(parseConfigText(seed, 't.toml', {}, {}).server.max_unsent_bytes, 1024 * 1024 * 1024);
    assert.equal(
      parseConfigText(`${seed}[server]\nmax_unsent_bytes = 0\n`, 't.toml', {}, {}).server.max_unsent_bytes,
      0,
    );
    assert.ok(
      problemsOf(`${seed}[server]\nmax_unsent_bytes = -1\n`).includes(
        'server.max_unsent_bytes: expected an integer in 0..1125899906842624, got -1',
      ),
    );
  });

  it('refuses a server.max_unsent_bytes under two of the largest values: a read of one was cut off', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    const MIB = 1024 * 1024;
    assert.ok(
      problemsOf(`${seed}[server]\nmax_value_bytes = ${64 * MIB}\nmax_unsent_bytes = ${16 * MIB}\n`).includes(
        `server.max_unsent_bytes: must be 0 (no limit) or at least 2 x server.max_value_bytes (${128 * MIB}), got ${16 * MIB}: below it a read of one large value is cut off`,
      ),
    );
    for (const budget of [0, 128 * MIB])
      assert.equal(
        parseConfigText(
          `${seed}[server]\nmax_value_bytes = ${64 * MIB}\nmax_unsent_bytes = ${budget}\n`,
          't.toml',
          {},
          {},
        ).server.max_unsent_bytes,
        budget,
      );
  });

  it('bounds server.idle_timeout_ms to 0 (never)..one day, 10 s by default', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    assert.equal(parseConfigText(seed, 't.toml', {}, {}).server.idle_timeout_ms, 10000);
    assert.equal(
      parseConfigText(`${seed}[server]\nidle_timeout_ms = 0\n`, 't.toml', {}, {}).server.idle_timeout_ms,
      0,
    );
    assert.ok(
      problemsOf(`${seed}[server]\nidle_timeout_ms = -1\n`).includes(
        'server.idle_timeout_ms: expected an integer in 0..86400000, got -1',
      ),
    );
  });

  it('bounds server.forward_timeout_ms to 1..600000, 5 s by default', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    assert.equal(parseConfigText(seed, 't.toml', {}, {}).server.forward_timeout_ms, 5000);
    const set = parseConfigText(`${seed}[server]\nforward_timeout_ms = 30000\n`, 't.toml', {}, {});
    assert.equal(set.server.forward_timeout_ms, 30000);
    for (const bad of [0, 600001])
      assert.ok(
        problemsOf(`${seed}[server]\nforward_timeout_ms = ${bad}\n`).includes(
          `server.forward_timeout_ms: expected an integer in 1..600000, got ${bad}`,
        ),
      );
  });

  it('rejects overlapping and missing explicit slot ranges', () => {
    const text = problemsOf(`
[[shards]]
name = "a"
idx = 0
address = "127.0.0.1:8080"
slots = "0-9000"
[[shards]]
name = "b"
idx = 1
address = "127.0.0.1:8081"
slots = "8000-16000"
`).join('\n');
    assert.match(text, /shards\[1\]\.slots: "8000-16000" overlaps slots of shards\[0\] \(8000-9000\)/);
    assert.match(text, /slots 16001-16383 are owned by no shard/);
  });

  it("refuses a RESP port (HTTP port + resp_port_offset) that is another node's HTTP port", () => {
    const text = problemsOf(`
[[shards]]
name = "a"
idx = 0
address = "127.0.0.1:8080"
[[shards]]
name = "b"
idx = 1
address = "127.0.0.1:9080"
`).join('\n');
    assert.match(
      text,
      /server\.resp_port_offset: node 127\.0\.0\.1:8080 would get RESP port 9080, the HTTP port of node 127\.0\.0\.1:9080/,
    );
    const other = parseConfigText(
      '[[shards]]\nname = "a"\nidx = 0\naddress = "127.0.0.1:8080"\n[[shards]]\nname = "b"\nidx = 1\naddress = "127.0.0.1:9080"\n[server]\nresp_port_offset = 500\n',
      'test.toml',
      {},
      {},
    );
    assert.equal(other.shards.length, 2, 'another offset is fine');
  });

  it('refuses one node written in two letter cases (a replica on its own leader, two listeners on one port)', () => {
    const text = problemsOf(`
[[shards]]
name = "a"
idx = 0
address = "node1.example:8080"
replicas = ["node2.example:8080"]
[[shards]]
name = "b"
idx = 1
address = "Node2.Example:8080"
replicas = ["NODE1.example:8080"]
`).join('\n');
    assert.match(
      text,
      /shards\[1\]\.address: "Node2\.Example:8080" is node "node2\.example:8080" \(shards\[0\]\.replicas\[0\]\) written another way/,
    );
    assert.match(
      text,
      /shards\[1\]\.replicas\[0\]: "NODE1\.example:8080" is node "node1\.example:8080" \(shards\[0\]\.address\)/,
    );
  });

  it('reports a TOML syntax error with its line and column', () => {
    const [p] = problemsOf('[[shards]]\nname = \n');
    assert.match(p ?? '', /TOML syntax error at line 2/);
  });

  it('applies command-line overrides and DISTKV_TOKEN, and validates them too', () => {
    const seed = '[[shards]]\nname="s"\nidx=0\naddress="127.0.0.1:1"\n';
    const c = parseConfigText(
      seed,
      't',
      { 'server.data_dir': '/x', 'storage.durability': 'none' },
      { DISTKV_TOKEN: 'secret' },
    );
    assert.equal(c.server.data_dir, '/x');
    assert.equal(c.storage.durability, 'none');
    assert.equal(c.server.token, 'secret');
    assert.throws(() => parseConfigText(seed, 't', { 'storage.durability': 'maybe' }, {}), ConfigError);
  });

  it('routes every slot to the shard whose range holds it', () => {
    const c = loadConfig(configPath('sharding.toml'), {}, {});
    const m = new ShardMap(c.shards);
    for (const [slot, shard] of [
      [0, 0],
      [4095, 0],
      [4096, 1],
      [12287, 2],
      [16383, 3],
    ] as const)
      assert.equal(m.shardOfSlot(slot), shard);
    assert.equal(m.hash.length, 16);
    const other = new ShardMap(c.shards.map((s) => (s.idx === 0 ? { ...s, address: '127.0.0.9:8080' } : s)));
    assert.notEqual(other.hash, m.hash, 'a changed address changes the topology hash');
  });
});
