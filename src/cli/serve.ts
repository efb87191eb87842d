/**
 * `distkv serve`: run the nodes of a config in this process until SIGTERM/SIGINT/SIGHUP.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigOverrides, loadConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import { DistkvNode } from '../server/node.js';
import { planNode, selectNodes } from '../server/node-plan.js';
import { LOADING_MARKER } from '../storage/bulk-load-marker.js';
import { createLogger } from '../util/logger.js';
import {
  formatOptions,
  intOption,
  listOption,
  type OptionSpec,
  parseArgs,
  stringOption,
  UsageError,
} from './args.js';
import { type HeldSignals, STOP_SIGNALS } from './held-signals.js';
import { refuseOtherNodesDir } from './node-dir-check.js';

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
    help: 'bearer token for internal/admin endpoints (or env DISTKV_TOKEN)',
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

/**
 * refuseUnfinishedLoads throws BULK_LOAD_REFUSED naming a store of `nodes` that holds a bulk load
 * that did not finish (interrupted, killed, disk full: its LOADING marker, docs/bulk-load.md):
 * serving it would present part of the load as the whole.
 */
function refuseUnfinishedLoads(config: Config, nodes: readonly string[]): void {
  for (const st of planNode(config, selectNodes(config, nodes), 1).stores) {
    if (!existsSync(join(st.dir, LOADING_MARKER))) continue;
    throw new DistkvError(
      'BULK_LOAD_REFUSED',
      `store ${st.dir} holds a bulk load that did not finish (its ${LOADING_MARKER} file): run the same \`distkv load\` again to finish it, or remove the store's directory to start it empty`,
    );
  }
}

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

  const config = loadConfig(stringOption(args, 'config') ?? DEFAULT_CONFIG, overrides);
  refuseOtherNodesDir(config, listOption(args, 'node'));
  refuseUnfinishedLoads(config, listOption(args, 'node'));
  const log = createLogger(logLevel);
  // The signal handlers are installed before the stores open: a Ctrl-C or SIGTERM while they open
  // (a long WAL replay, a resync) used to kill the process at once (exit 130/143, no stores
  // closed, "did not stop cleanly" at the next start). Now the first one stops the node as soon as
  // it is open; a second one still exits at once.
  let signals = 0;
  let stopping: ((signal: NodeJS.Signals) => void) | undefined;
  let exitNow: ((code: number) => void) | undefined;
  let pending: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting at once');
      if (exitNow === undefined) process.exit(1);
      exitNow(1);
      return;
    }
    if (stopping !== undefined) stopping(signal);
    else {
      pending = signal;
      log.info({ signal }, 'shutting down once the stores are open (a second signal exits at once)');
    }
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  // A signal that came while the modules loaded (held until now): stopped before anything opened,
  // so nothing to close and no run marker written; the next start finds the last stop as it was.
  const early = held?.release() ?? [];
  if (early.length > 0) {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    log.info({ signal: early[0] }, 'stopped before starting (the signal came while distkv loaded)');
    return 0;
  }
  // Logged once the handlers are in place: from this line on, a signal stops the node cleanly.
  log.info(
    {
      config: config.source,
      data_dir: config.server.data_dir,
      durability: config.storage.durability,
      engine: config.storage.engine,
    },
    'starting distkv',
  );
  const listen = stringOption(args, 'listen');
  let node: DistkvNode;
  try {
    node = await DistkvNode.start({
      config,
      nodes: listOption(args, 'node'),
      ...(listen === undefined ? {} : { listen }),
      inline: args.options.get('inline') === true,
      proxy: args.options.get('proxy') === true,
      log,
      repair: args.options.get('repair') === true,
    });
  } catch (err) {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    throw err;
  }

  return new Promise<number>((resolve) => {
    exitNow = resolve;
    stopping = (signal) => {
      log.info({ signal }, 'shutting down');
      node.stop().then(
        () => {
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    if (pending !== undefined) stopping(pending);
  });
}
