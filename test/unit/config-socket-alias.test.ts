/**
 * Two node addresses that name one listening socket (`localhost:P` and `127.0.0.1:P`, a wildcard
 * host and a loopback one at one port) are refused by the config check, naming both entries
 * (src/config/socket-alias.ts). They passed, and `distkv serve` then failed at the second listen
 * with "the port is in use (is another distkv or another server running there?)", though it was
 * its own other listener.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAddress } from '../../src/config/address.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { type NodeField, socketAlias, socketAliasProblems } from '../../src/config/socket-alias.js';
import { ConfigError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { runCli } from '../helpers/server-process.js';

/** twoShards is a config of two shards led by `a` and `b`. */
const twoShards = (a: string, b: string): string =>
  `[[shards]]\nname = "s0"\nidx = 0\naddress = "${a}"\n\n[[shards]]\nname = "s1"\nidx = 1\naddress = "${b}"\n`;

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'aliases.toml', {}, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return [...err.problems];
  }
  return [];
}

const dir = mkdtempSync(join(tmpdir(), 'distkv-socket-alias-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('config: two nodes on one listening socket', () => {
  it('refuses localhost:P next to 127.0.0.1:P or [::1]:P, naming both entries', () => {
    assert.deepEqual(problemsOf(twoShards('localhost:7001', '127.0.0.1:7001')), [
      'shards[1].address: "127.0.0.1:7001" and "localhost:7001" (shards[0].address) are one listening socket (localhost is 127.0.0.1 or ::1): the two nodes cannot both listen there; give them different ports, or write the node one way',
    ]);
    assert.match(
      problemsOf(twoShards('[::1]:7001', 'LocalHost:7001')).join('\n'),
      /^shards\[1\]\.address: "LocalHost:7001" and "\[::1\]:7001" \(shards\[0\]\.address\) are one listening socket/,
    );
  });

  it('refuses a replica aliased to a leader of another shard, in the replica field', () => {
    const text = `${twoShards('127.0.0.1:7001', '127.0.0.2:7002')}replicas = ["localhost:7001"]\n`;
    assert.match(
      problemsOf(text).join('\n'),
      /^shards\[1\]\.replicas\[0\]: "localhost:7001" and "127\.0\.0\.1:7001" \(shards\[0\]\.address\) are one listening socket/,
    );
  });

  it('refuses a wildcard host as a node address, naming --listen for a bind on every interface', () => {
    const problems = problemsOf(twoShards('0.0.0.0:7001', '127.0.0.5:7002'));
    assert.equal(
      problems[0],
      `shards[0].address: "0.0.0.0:7001": 0.0.0.0 names no host: a node's address is where clients and the other nodes reach it (redirects and /cluster carry it); write that address here, and to listen on every interface start the node with --listen 0.0.0.0:7001`,
    );
    assert.match(
      problemsOf(twoShards('127.0.0.1:7001', '[::]:7002')).join('\n'),
      /"\[::\]:7002": :: names no host/,
    );
  });

  it('refuses a wildcard host next to a loopback one at the same port', () => {
    assert.match(
      problemsOf(twoShards('0.0.0.0:7001', '127.0.0.5:7001')).join('\n'),
      /0\.0\.0\.0 listens on every IPv4 address/,
    );
    assert.match(
      problemsOf(twoShards('[::]:7001', '127.0.0.1:7001')).join('\n'),
      /:: listens on every address/,
    );
  });

  it('takes what are distinct sockets: other ports, other loopback addresses, one node named twice the same way', () => {
    assert.deepEqual(problemsOf(twoShards('localhost:7001', '127.0.0.1:7002')), []);
    assert.deepEqual(problemsOf(twoShards('127.0.0.1:7001', '127.0.0.2:7001')), []);
    assert.deepEqual(problemsOf(twoShards('127.0.0.1:7001', '[::1]:7001')), []);
    assert.deepEqual(
      problemsOf(`${twoShards('localhost:7001', '127.0.0.2:7002')}replicas = ["localhost:7001"]\n`),
      [],
    );
    assert.deepEqual(problemsOf(twoShards('node-a.example:7001', 'node-b.example:7001')), []);
  });

  // socketAliasProblems keeps a few candidates per port instead of comparing every pair (a config
  // of 16384 loopback nodes took 26 s to check); it must name what the pairwise rule names.
  it('names, for each node, the earliest earlier node the pairwise rule names (random configs)', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const hosts = ['localhost', 'LocalHost', '127.0.0.1', '127.0.0.2', '127.9.9.9', '[::1]', '[0::1]'];
    hosts.push('0.0.0.0', '[::]', '10.0.0.1', 'node-a.example', 'bad host');
    for (let round = 0; round < 2000; round++) {
      const nodes: NodeField[] = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) => ({
        field: `shards[${i}].address`,
        text: `${hosts[Math.floor(random() * hosts.length)]!}:${7001 + Math.floor(random() * 2)}`,
      }));
      assert.deepEqual(
        socketAliasProblems(nodes).map((n) => `${n.field} ${n.text.split(' and ')[1]!.split(' are ')[0]!}`),
        pairwiseAliases(nodes),
        `DISTKV_SEED=${seed} round ${round}: ${JSON.stringify(nodes.map((n) => n.text))}`,
      );
    }
  });

  it('makes `distkv serve` exit 2 naming both entries, not "the port is in use"', async () => {
    const port = await freePort();
    const config = join(dir, 'aliases.toml');
    writeFileSync(config, twoShards(`localhost:${port}`, `127.0.0.1:${port}`));
    const r = await runCli([
      'serve',
      '--config',
      config,
      '--data-dir',
      join(dir, 'data'),
      '--log-level',
      'error',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `"127\\.0\\.0\\.1:${port}" and "localhost:${port}" \\(shards\\[0\\]\\.address\\) are one listening socket`,
      ),
    );
    assert.doesNotMatch(r.stderr, /in use/);
  });
});

describe("config: a node's RESP socket on another node's HTTP socket", () => {
  // RESP listens at the HTTP port + server.resp_port_offset (1000 by default, docs/resp.md).
  it('refuses it through a socket alias or another spelling of the host, naming both nodes', () => {
    assert.deepEqual(problemsOf(twoShards('localhost:7001', '127.0.0.1:8001')), [
      'server.resp_port_offset: node localhost:7001 would get RESP port 8001, the HTTP port of node 127.0.0.1:8001 (localhost:8001 and 127.0.0.1:8001 are one listening socket: localhost is 127.0.0.1 or ::1) (pick another offset, or 0 for no RESP listener)',
    ]);
    // A node named 0.0.0.0 is refused on its own too (address.ts, nodeAddressProblem).
    assert.deepEqual(problemsOf(twoShards('127.0.0.1:7001', '0.0.0.0:8001')).slice(1), [
      'server.resp_port_offset: node 127.0.0.1:7001 would get RESP port 8001, the HTTP port of node 0.0.0.0:8001 (127.0.0.1:8001 and 0.0.0.0:8001 are one listening socket: 0.0.0.0 listens on every IPv4 address of the machine, 127.0.0.1 among them) (pick another offset, or 0 for no RESP listener)',
    ]);
    assert.deepEqual(problemsOf(twoShards('[0::1]:7001', '[::1]:8001')), [
      'server.resp_port_offset: node [0::1]:7001 would get RESP port 8001, the HTTP port of node [::1]:8001 (pick another offset, or 0 for no RESP listener)',
    ]);
  });

  it('takes distinct sockets, and another offset', () => {
    assert.deepEqual(problemsOf(twoShards('localhost:7001', '127.0.0.2:8001')), []);
    assert.deepEqual(problemsOf(twoShards('127.0.0.1:7001', '[::1]:8001')), []);
    assert.deepEqual(
      problemsOf(`${twoShards('localhost:7001', '127.0.0.1:8001')}\n[server]\nresp_port_offset = 500\n`),
      [],
    );
  });
});

/** pairwiseAliases is the rule by its definition: each node's earliest earlier node that socketAlias names, as "field \"text\" (its field)". */
function pairwiseAliases(nodes: readonly NodeField[]): string[] {
  const out: string[] = [];
  for (const [i, n] of nodes.entries()) {
    const a = parseAddress(n.text);
    if (typeof a === 'string') continue;
    const before = nodes.slice(0, i).find((m) => {
      const b = parseAddress(m.text);
      return typeof b !== 'string' && socketAlias(b, a) !== undefined;
    });
    if (before !== undefined) out.push(`${n.field} "${before.text}" (${before.field})`);
  }
  return out;
}
