/**
 * `distkv serve`: its options and --help; the run (serve-run.ts) runs the nodes of a config in this
 * process until SIGTERM/SIGINT/SIGHUP. This module loads only the option parser, so `distkv serve
 * --help` and a mistyped option do not load the server.
 */
import { fileURLToPath } from 'node:url';
import type { ConfigOverrides } from '../config/load-config.js';
import { formatOptions, intOption, type OptionSpec, parseArgs, stringOption, UsageError } from './args.js';
import type { HeldSignals } from './held-signals.js';

/** DEFAULT_CONFIG is config/default.toml of the installed package. */
export const DEFAULT_CONFIG = fileURLToPath(new URL('../../../config/default.toml', import.meta.url));

const OPTIONS: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    valueName: 'FILE',
    nonEmpty: true,
    help: "config file (the seed's sharding.toml format); default config/default.toml",
  },
  node: {
    type: 'list',
    valueName: 'ADDR',
    help: 'host only this node (repeat or comma-separate for several); default: every node of the config on this machine',
  },
  listen: {
    type: 'string',
    valueName: 'HOST:PORT',
    nonEmpty: true,
    help: "bind here instead of the node's config address, which clients still use (a proxy or port mapping in front); needs exactly one --node",
  },
  'data-dir': {
    type: 'string',
    valueName: 'DIR',
    nonEmpty: true,
    help: 'data directory (overrides server.data_dir; default ./data)',
  },
  workers: {
    type: 'string',
    valueName: 'N',
    help: 'shard worker threads (0 = CPUs minus one, at least 1; overrides server.workers)',
  },
  proxy: {
    type: 'boolean',
    help: 'forward requests for keys owned by other nodes and relay the answer, instead of 307 (for clients that cannot follow redirects; costs a hop)',
  },
  inline: {
    type: 'boolean',
    help: 'run the stores on the main thread, no worker threads (no thread hop: for several small nodes per machine)',
  },
  token: {
    type: 'string',
    valueName: 'TOKEN',
    help: 'bearer token for internal/admin endpoints (overrides server.token, which overrides env DISTKV_TOKEN; --token "" = none); visible ASCII, no space at either end',
  },
  durability: {
    type: 'string',
    valueName: 'MODE',
    help: 'fsync | interval | none (overrides storage.durability)',
  },
  engine: {
    type: 'string',
    valueName: 'ENGINE',
    help: 'storage engine: lsm | lmdb | memory (overrides storage.engine)',
  },
  repair: {
    type: 'boolean',
    help: 'start even if a store is damaged: keep data up to the damage, drop and report the rest',
  },
  'log-level': {
    type: 'string',
    valueName: 'LEVEL',
    help: 'trace | debug | info | warn | error (default info, or env DISTKV_LOG_LEVEL)',
  },
  help: { type: 'boolean', help: 'show this help' },
};

/** SERVE_HELP is the text of `distkv serve --help`. */
export const SERVE_HELP = `Usage: distkv serve [options]

Runs distkv nodes: every node of the config whose address is on this machine (one process, one
listener per address), or only the ones named with --node (one node per host in a multi-host cluster).

Options:
${formatOptions(OPTIONS)}

Examples:
  distkv serve                                     # config/default.toml: 4 shards on 127.0.0.1:8080, replicas on :8081
  distkv serve --config config/sharding.toml       # the seed's layout, 10 addresses in one process
  distkv serve --config cluster.toml --node 10.0.0.2:8080 --data-dir /var/lib/distkv

Stop with SIGTERM, Ctrl-C or SIGHUP (its terminal closed): distkv stops accepting, finishes in-flight
requests, flushes and exits 0 (given while the stores open, once they are open). A second signal
exits at once. To keep a node running after its terminal closes, run it as a service (systemd) or
with setsid, not nohup (Node undoes nohup's ignoring of SIGHUP).`;

/** LOG_LEVELS are the levels --log-level and DISTKV_LOG_LEVEL take (pino's, in any letter case). */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * logLevelOf is the log level: --log-level, else DISTKV_LOG_LEVEL unless empty (as an
 * `EnvironmentFile` line `DISTKV_LOG_LEVEL=` gives it), else info. A level pino does not know is a
 * usage mistake naming where it came from: pino refused it with "default level:loud must be
 * included in custom levels", exit 1.
 */
export function logLevelOf(flag: string | undefined, env: string | undefined): string {
  const [level, from] = flag !== undefined ? [flag, '--log-level'] : [env ?? '', 'DISTKV_LOG_LEVEL'];
  if (flag === undefined && level === '') return 'info';
  if (!LOG_LEVELS.includes(level.toLowerCase()))
    throw new UsageError(
      `${from} must be one of ${LOG_LEVELS.slice(0, 5).join(', ')}, got ${JSON.stringify(level)}`,
    );
  return level.toLowerCase();
}

/**
 * serve runs `distkv serve`; it resolves when the server has stopped, with the exit code. `held`
 * are the signals that came before it could install its handlers (held-signals.ts): it takes them
 * as if they came once the handlers were in place.
 */
export async function serve(argv: readonly string[], held?: HeldSignals): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]!}": serve takes options only`);
  const logLevel = logLevelOf(stringOption(args, 'log-level'), process.env.DISTKV_LOG_LEVEL);
  const overrides: ConfigOverrides = {};
  const dataDir = stringOption(args, 'data-dir');
  if (dataDir !== undefined) overrides['server.data_dir'] = dataDir;
  const workers = intOption(args, 'workers');
  if (workers !== undefined) overrides['server.workers'] = workers;
  const token = stringOption(args, 'token');
  if (token !== undefined) overrides['server.token'] = token;
  const durability = stringOption(args, 'durability');
  if (durability !== undefined) overrides['storage.durability'] = durability;
  const engine = stringOption(args, 'engine');
  if (engine !== undefined) overrides['storage.engine'] = engine;

  // The config, the checks of the data directory and the server are loaded only from here on: `serve
  // --help` and a mistake in an option answer without them (~180 modules, ~300 ms).
  return (await import('./serve-run.js')).runServe(args, logLevel, overrides, held);
}
