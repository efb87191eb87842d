/**
 * Every setting with a bad value gets a problem that names it (and the file), never a crash and
 * never a silent fallback (src/config/validate-config.ts, load-config.ts, address.ts). The sweep
 * takes the settings from DEFAULTS, so a new setting is covered the day it is added.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { DEFAULTS } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const SHARD = '[[shards]]\nname = "s"\nidx = 0\naddress = "127.0.0.1:8080"\nreplicas = ["127.0.0.1:8081"]\n';

function problemsOf(text: string, overrides: Parameters<typeof parseConfigText>[2] = {}): string[] {
  try {
    parseConfigText(text, 'bad.toml', overrides, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    assert.match(err.message, /^invalid configuration in bad\.toml:/);
    return [...err.problems];
  }
  return [];
}

/** shardWith is one shard whose leader and replica addresses are given. */
const shardWith = (address: string, replica: string): string =>
  `[[shards]]\nname = "s"\nidx = 0\naddress = "${address}"\nreplicas = ["${replica}"]\n`;

describe('config: bad values', () => {
  it('names every setting given a value of the wrong type or out of bounds', () => {
    const bad = ['1.5', 'nan', 'inf', '-inf', '1e300', '"x"', 'true', '[1]', '{ a = 1 }', '1979-05-27'];
    for (const [section, settings] of Object.entries(DEFAULTS))
      for (const [key, fallback] of Object.entries(settings)) {
        const values =
          typeof fallback === 'number'
            ? bad
            : Array.isArray(fallback)
              ? ['"x"', '1', '[1]', '["not a url"]']
              : ['1', 'true', '[1]', '{ a = 1 }', '1979-05-27'];
        for (const v of values) {
          const problems = problemsOf(`${SHARD}[${section}]\n${key} = ${v}\n`);
          assert.ok(
            problems.some((p) => p.startsWith(`${section}.${key}`)),
            `${section}.${key} = ${v}: ${JSON.stringify(problems)}`,
          );
        }
      }
  });

  it('names a typo of a known setting and lists the known ones', () => {
    const [p] = problemsOf(`${SHARD}[storage]\ndurabilty = "none"\n`);
    assert.match(p ?? '', /^storage\.durabilty: unknown setting \(expected one of engine, durability,/);
  });

  it('says a TOML date-time is one, not "a table"', () => {
    const [p] = problemsOf(`${SHARD}[server]\ndata_dir = 1979-05-27\n`);
    assert.equal(p, 'server.data_dir: expected a string, got a TOML date-time (1979-05-27)');
  });

  // "127.0.0.1:08080" and "127.0.0.1:8080" are one port and were two nodes: with both in one
  // shard, the replica's listener failed with "the port is in use (is another distkv ... running
  // there?)", or the replica lived on its own leader's port.
  it('refuses a port written with leading zeros (one node, two spellings)', () => {
    const [p] = problemsOf(shardWith('127.0.0.1:8080', '127.0.0.1:08080'));
    assert.equal(
      p,
      'shards[0].replicas[0]: "127.0.0.1:08080": port "08080" has leading zeros: write it as 8080 (the address names the node, and one node has one spelling)',
    );
  });

  // "[0::1]:8080" and "[::1]:8080" are one address and port, and were two nodes of one config.
  it('refuses one IPv6 node written two ways', () => {
    const [p] = problemsOf(shardWith('[::1]:8080', '[0:0::1]:8080'));
    assert.equal(
      p,
      'shards[0].replicas[0]: "[0:0::1]:8080" is node "[::1]:8080" (shards[0].address) written another way: host names are not case-sensitive, and an IPv6 address has one node whatever its spelling; write each node one way',
    );
  });

  it('refuses ports 0 and 65536 and takes [::1]:p and localhost:p', () => {
    assert.match(
      problemsOf(shardWith('127.0.0.1:0', '127.0.0.1:1')).join('\n'),
      /port 0 is outside 1\.\.65535/,
    );
    assert.match(
      problemsOf(shardWith('127.0.0.1:65536', '127.0.0.1:1')).join('\n'),
      /port 65536 is outside 1\.\.65535/,
    );
    assert.deepEqual(problemsOf(shardWith('[::1]:8080', 'localhost:8081')), []);
  });

  // Before, any run of hex digits, colons and dots in brackets passed ("[::::]", "[1:2]"), and the
  // node failed later, at listen or connect.
  it('refuses a bracketed host that is not an IPv6 address', () => {
    const problems = problemsOf(shardWith('[::::]:8080', '[1:2]:8081')).join('\n');
    assert.match(problems, /shards\[0\]\.address: "\[::::\]:8080": "::::" is not an IPv6 address/);
    assert.match(problems, /shards\[0\]\.replicas\[0\]: "\[1:2\]:8081": "1:2" is not an IPv6 address/);
    assert.deepEqual(problemsOf(shardWith('[::ffff:127.0.0.1]:8080', '[fe80::1]:8081')), []);
  });

  it('takes an etcd URL whose port is the scheme default (URL drops it), and refuses one with none', () => {
    assert.deepEqual(
      problemsOf(`${SHARD}[coordination]\netcd = ["http://etcd:80", "https://[::1]:443/"]\n`),
      [],
    );
    assert.match(
      problemsOf(`${SHARD}[coordination]\netcd = ["http://etcd"]\n`).join('\n'),
      /coordination\.etcd\[0\]: "http:\/\/etcd" is not an etcd client URL/,
    );
  });

  // Before, a malformed range also counted as not given: a second problem said the slots were
  // given for 1 of 2 shards, though both gave them.
  it('reports a malformed slot range once, not also as missing', () => {
    const problems = problemsOf(
      '[[shards]]\nname = "a"\nidx = 0\naddress = "127.0.0.1:1"\nslots = "0-x"\n' +
        '[[shards]]\nname = "b"\nidx = 1\naddress = "127.0.0.1:2"\nslots = "8192-16383"\n',
    );
    assert.deepEqual(problems, ['shards[0].slots: expected "first-last", as "0-4095", got "0-x"']);
    assert.match(
      problemsOf(
        '[[shards]]\nname = "a"\nidx = 0\naddress = "127.0.0.1:1"\nslots = "0-8191"\n' +
          '[[shards]]\nname = "b"\nidx = 1\naddress = "127.0.0.1:2"\n',
      ).join('\n'),
      /slots given for 1 of 2 shards/,
    );
  });

  // Before, 16385 shards loaded, one of them with an empty default slot range.
  it('refuses more shards than slots (one would own none)', () => {
    let text = '[server]\nresp_port_offset = 0\n';
    for (let i = 0; i <= 16384; i++)
      text += `[[shards]]\nname = "s${i}"\nidx = ${i}\naddress = "127.0.${i >> 8}.${i & 255}:8080"\n`;
    assert.deepEqual(problemsOf(text), ['shards: 16385 shards; at most 16384, one per slot']);
  });

  it('names duplicate shard names and idx by their place in the file', () => {
    const problems = problemsOf(
      '[[shards]]\nname = "a"\nidx = 0\naddress = "127.0.0.1:1"\n' +
        '[[shards]]\nname = "a"\nidx = 0\naddress = "127.0.0.1:2"\n',
    ).join('\n');
    assert.match(problems, /shards\[1\]\.idx: duplicate idx 0 \(also shards\[0\]\)/);
    assert.match(problems, /shards\[1\]\.name: duplicate name "a" \(also shards\[0\]\)/);
  });

  // Before, `--data-dir` over a file with `server = 5` replaced the section: the mistake in the
  // file went unsaid.
  it('reports a section that is not a table even when the command line sets one of its keys', () => {
    const problems = problemsOf(`server = 5\n${SHARD}`, { 'server.data_dir': '/tmp/x' });
    assert.deepEqual(problems, ['server: expected a table [server], got number 5']);
  });

  it('says when a bad value came from the command line, not the file the error names', () => {
    assert.deepEqual(problemsOf(SHARD, { 'server.data_dir': '' }), [
      'server.data_dir: must not be empty (given on the command line, which overrides the file)',
    ]);
    assert.deepEqual(problemsOf(`${SHARD}[server]\ndata_dir = ""\n`), ['server.data_dir: must not be empty']);
  });

  it("takes the seed's file unchanged and refuses a file that is not TOML with its line", () => {
    assert.deepEqual(problemsOf(SHARD), []);
    assert.match(problemsOf('\u0000\u0001').join('\n'), /^TOML syntax error at line 1, column 1/);
    assert.match(problemsOf(`a = ${'['.repeat(5000)}`).join('\n'), /^TOML syntax error/);
  });
});
