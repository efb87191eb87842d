/**
 * `distkv map fetch --from ADDR`: writes a running peer's live map into this node's data directory
 * (`<data_dir>/live-map.json`, src/server/live-map-file.ts), with the node stopped. A damaged map
 * file stops a node's start (docs/failover.md, "How a map spreads"); before this command the fix
 * was a hand copy of the `map` of the peer's `GET /cluster`. The command checks that the peer
 * routes with the same config (its topology hash), validates the map against the config, holds
 * the data directory's lock while it writes (a node running on it makes the command fail), and
 * never replaces a valid map of a higher version (`installLiveMap`). An https:// peer is trusted
 * as the node trusts it: with the config's `server.tls_ca` when set.
 */
import { Agent, fetch } from 'undici';
import { parseEndpoint } from '../client/endpoint.js';
import { type ConfigOverrides, loadConfig } from '../config/load-config.js';
import { readTlsFiles } from '../config/tls-files.js';
import { wireError } from '../client/wire-decode.js';
import { DistkvError } from '../errors.js';
import { topologyHash } from '../routing/shard-map.js';
import { DataDirLock } from '../server/data-dir-lock.js';
import { installLiveMap, LIVE_MAP_FILE } from '../server/live-map-file.js';
import { formatOptions, type OptionSpec, parseArgs, stringOption, UsageError } from './args.js';
import { tokenOption } from './connect.js';
import { failureText } from './failover-calls.js';
import { refuseNotDataDir } from './node-dir-check.js';
import { DEFAULT_CONFIG } from './serve.js';
import { readFetchText } from '../util/peer-answer.js';

/** FETCH_TIMEOUT_MS bounds the peer's answer to `GET /cluster`. */
const FETCH_TIMEOUT_MS = 5000;

const OPTIONS: Record<string, OptionSpec> = {
  from: {
    type: 'string',
    valueName: 'ADDR',
    nonEmpty: true,
    help: 'a running node to copy the map from (HOST:PORT or URL)',
  },
  config: {
    type: 'string',
    valueName: 'FILE',
    nonEmpty: true,
    help: 'config file; default config/default.toml',
  },
  'data-dir': {
    type: 'string',
    valueName: 'DIR',
    nonEmpty: true,
    help: 'data directory (overrides server.data_dir)',
  },
  token: { type: 'string', valueName: 'TOKEN', help: "bearer token, if the peer's /cluster needs one" },
  help: { type: 'boolean', help: 'show this help' },
};

/** MAP_HELP is the text of `distkv map --help`. */
export const MAP_HELP = `Usage: distkv map fetch --from ADDR [options]

Writes the live map of a running node (the "map" of its GET /cluster) as this node's
<data_dir>/${LIVE_MAP_FILE}, durably. Use it when a node refuses to start because its map file is
damaged (CORRUPTION naming the file). Run it with this node stopped: it holds the data directory's
lock while it writes, into the node's existing data directory (refused when it does not exist or
holds no live map, lock or store). The peer must route with the same config (sharding); the map is checked
against it. A valid map of a higher version already in the file is left alone (exit 1), and so is
one of the same version with other entries; the same map is left as it is (exit 0).

Options:
${formatOptions(OPTIONS)}`;

/** mapCommand runs `distkv map`. */
export async function mapCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${MAP_HELP}\n`);
    return 0;
  }
  const [sub, extra] = args.positionals;
  if (sub !== 'fetch')
    throw new UsageError(sub === undefined ? 'missing "fetch"' : `unknown subcommand "${sub}"`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const from = stringOption(args, 'from');
  if (from === undefined) throw new UsageError('missing --from ADDR: the running node to copy the map from');
  let base: string;
  try {
    base = parseEndpoint(from);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const overrides: ConfigOverrides = {};
  const dataDir = stringOption(args, 'data-dir');
  if (dataDir !== undefined) overrides['server.data_dir'] = dataDir;
  const configFile = stringOption(args, 'config');
  const config = loadConfig(configFile ?? DEFAULT_CONFIG, overrides);
  // The CA read and checked as the node reads it at start (tls-files.ts): a bad file is named alike.
  const { ca } = readTlsFiles({ tls_cert: '', tls_key: '', tls_ca: config.server.tls_ca }, config.source);
  // Only --token goes to the peer (DISTKV_TOKEN is read into the config's server.token).
  const peer = await fetchPeerCluster(base, tokenOption(args, {}), ca);
  const hash = topologyHash(config.shards);
  if (peer.version !== hash)
    throw new DistkvError(
      'CONFIG_MISMATCH',
      // Most likely --config was left out (the node's own file is not the default) or names
      // another file: the peer's map is not for these shards. Say which file was read.
      `${base} routes with config ${String(peer.version)}, and ${config.source}${configFile === undefined ? ' (the default: no --config given)' : ''} is config ${hash}: its map is not for these shards. Give --config the sharding.toml this node starts with (the nodes of a cluster share one)`,
    );
  // After the peer's checks, which read nothing here; before the lock, whose mkdir made a new
  // directory holding only the map.
  refuseNotDataDir(
    config.server.data_dir,
    dataDir !== undefined ? '--data-dir' : `server.data_dir of ${config.source}`,
  );
  const lock = DataDirLock.acquire(config.server.data_dir);
  try {
    const r = installLiveMap(config.server.data_dir, config.shards, peer.map);
    const path = `${config.server.data_dir}/${LIVE_MAP_FILE}`;
    process.stdout.write(
      r.written
        ? `wrote live map version ${r.map.version} from ${base} to ${path} (it held: ${r.before})\n`
        : `${path} already holds live map version ${r.map.version} of ${base}; left as it is\n`,
    );
    return 0;
  } finally {
    lock.release();
  }
}

/**
 * fetchPeerCluster fetches the peer `base`'s `GET /cluster` for `map fetch`: its config hash
 * (`version`) and live map (`map`), trusting `ca` when given. Without it, a peer under a private
 * CA "did not answer: fetch failed".
 */
async function fetchPeerCluster(
  base: string,
  token: string,
  ca: Buffer | undefined,
): Promise<{ version?: unknown; map?: unknown }> {
  const dispatcher = ca === undefined ? undefined : new Agent({ connect: { ca } });
  try {
    return await fetchPeerClusterWith(base, token, dispatcher);
  } finally {
    await dispatcher?.close();
  }
}

/** fetchPeerClusterWith is fetchPeerCluster through `dispatcher` (undefined: the default one). */
async function fetchPeerClusterWith(
  base: string,
  token: string,
  dispatcher: Agent | undefined,
): Promise<{ version?: unknown; map?: unknown }> {
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(`${base}/cluster`, {
      headers: token === '' ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
  } catch (err) {
    // fetch says only "fetch failed"; its cause says why (refused, a certificate not trusted).
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `${base} did not answer GET /cluster: ${failureText(err, FETCH_TIMEOUT_MS)}`,
    );
  }
  // Read with a byte cap (CLUSTER_DOC_BYTES), as a node reads a peer's: `res.text()` gathered
  // whatever the node sent within the timeout.
  let text: string;
  try {
    text = await readFetchText(res, FETCH_TIMEOUT_MS, `${base} answered GET /cluster`);
  } catch (err) {
    throw new DistkvError('SHARD_UNREACHABLE', failureText(err, FETCH_TIMEOUT_MS));
  }
  const type = res.headers.get('content-type');
  if (!res.ok) {
    // A node's refusal (a token it wants) is its catalogue error, said as it is.
    const refusal = nodeRefusal(text);
    if (refusal !== undefined)
      throw new DistkvError(
        'SHARD_UNREACHABLE',
        `${base} answered GET /cluster with ${res.status} ${refusal.code}: ${refusal.message}`,
      );
    throw notANode(base, `${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`, type, text);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw notANode(base, `${res.status}, not JSON`, type, text);
  }
  // `null` or an array would be read as a document of no config (null threw a TypeError).
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `${base} answered GET /cluster with JSON that is not a document: ${firstLine(text)}`,
    );
  return doc;
}

/** ANSWER_LINE_CHARS bounds what a message quotes of a peer's answer. */
const ANSWER_LINE_CHARS = 80;

/**
 * notANode is the error for a peer whose answer to GET /cluster (`status`, its content type and
 * `text`) is not a distkv node's: a distkv node answers it 200 with JSON, or refuses it with a
 * catalogue error. Any other server's 404 page was quoted whole (200 characters of HTML, its
 * newlines included) as if it were the node's word.
 */
function notANode(base: string, status: string, type: string | null, text: string): DistkvError {
  return new DistkvError(
    'SHARD_UNREACHABLE',
    `${base} did not answer GET /cluster as a distkv node (${status}${type === null ? '' : `, ${type}`}; body: ${firstLine(text)}): is --from the HTTP address of a running node?`,
  );
}

/**
 * firstLine quotes the first line of `text` that is not blank, cut to ANSWER_LINE_CHARS, as JSON
 * (a peer's control characters reach no terminal), or says the body is empty.
 */
function firstLine(text: string): string {
  const line = text
    .split(/\r?\n/)
    .find((l) => l.trim() !== '')
    ?.trim();
  if (line === undefined) return 'empty';
  return JSON.stringify(line.length > ANSWER_LINE_CHARS ? `${line.slice(0, ANSWER_LINE_CHARS)}…` : line);
}

/** nodeRefusal is the catalogue error `text` holds (a node's refusal), or undefined. */
function nodeRefusal(text: string): DistkvError | undefined {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    return e === undefined ? undefined : wireError(e, undefined);
  } catch {
    return undefined;
  }
}
