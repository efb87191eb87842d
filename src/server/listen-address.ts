/**
 * `distkv serve --node A --listen B`: the address node A binds instead of its config address, for
 * a proxy or a port mapping in front (clients and other nodes still reach A at A). Checked before
 * anything opens, each mistake refused as CONFIG_INVALID (exit 2) naming `--listen`:
 *
 * - B is no address ("host:port", "[ipv6]:port");
 * - not exactly one node is hosted (--listen rebinds that one only);
 * - B is the config address of another node of the config, or a socket of it (`localhost:P` for
 *   127.0.0.1:P, `0.0.0.0:P` for a loopback node at P: socket-alias.ts). Node A there answered
 *   writes for B's shards with 307 to B, that is to itself, for ever: a client following redirects
 *   spun until it gave up ("the nodes disagree about who owns it"), and the start said nothing
 *   (test/e2e/listen-other-node.test.ts). docs/operations.md: a node never redirects to itself.
 *
 * A wildcard (`0.0.0.0:P`, `[::]:P`) or another host's address at another node's port is fine:
 * only a socket the other node's config address names is refused, which is known without a lookup.
 */
import { type NodeAddress, parseAddress } from '../config/address.js';
import { hostKey } from '../config/host-key.js';
import type { Config } from '../config/schema.js';
import { socketAlias } from '../config/socket-alias.js';
import { ConfigError } from '../errors.js';
import { configNodes } from './node-plan.js';

/**
 * listenAddress checks `--listen` (`listen`) for the hosted nodes `hosted` of `config` and returns
 * the address to bind; throws ConfigError (CONFIG_INVALID) naming `--listen` otherwise.
 */
export function listenAddress(config: Config, hosted: readonly string[], listen: string): NodeAddress {
  const bind = parseAddress(listen);
  if (typeof bind === 'string') throw new ConfigError('--listen', [`--listen ${listen}: ${bind}`]);
  const [node, ...more] = hosted;
  if (node === undefined || more.length > 0)
    throw new ConfigError('--listen', ['--listen needs exactly one --node (it rebinds that node only)']);
  for (const other of configNodes(config)) {
    if (other === node) continue;
    const at = parseAddress(other);
    if (typeof at === 'string') continue;
    const same = at.port === bind.port && hostKey(at.host) === hostKey(bind.host);
    const alias = same ? undefined : socketAlias(bind, at);
    if (!same && alias === undefined) continue;
    throw new ConfigError('--listen', [
      `--listen ${listen} is ${same ? 'the address' : `a socket (${alias ?? ''})`} of node ${other} of the config, not of node ${node} (--node): ` +
        `node ${node} would answer there the requests clients send to ${other}, and redirect those of ${other}'s shards to ${other}, that is to itself. ` +
        `--listen is the address node ${node} binds when clients reach it at ${node} through a proxy or a port mapping; ` +
        `give an address of this host that no other node of the config has (0.0.0.0:PORT binds every interface), or leave --listen out to bind ${node}`,
    ]);
  }
  return bind;
}
