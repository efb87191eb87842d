/**
 * The run of `distkv serve` (serve.ts checked its options): loads the config, checks the data
 * directory, then loads the server and runs the nodes until SIGTERM/SIGINT/SIGHUP. The server's
 * modules are imported after the config's checks (a config mistake answers without them) and while
 * bin/distkv.js still holds the stop signals (held-signals.ts).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ConfigOverrides, loadConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import type { DistkvNode } from '../server/node.js';
import { planNode, selectNodes } from '../server/node-plan.js';
import { LOADING_MARKER } from '../storage/bulk-load-marker.js';
import { createLogger } from '../util/logger.js';
import { listOption, type ParsedArgs, stringOption } from './args.js';
import { type HeldSignals, STOP_SIGNALS } from './held-signals.js';
import { refuseOtherNodesDir } from './node-dir-check.js';
import { DEFAULT_CONFIG } from './serve.js';

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

/**
 * runServe runs `distkv serve` with its checked options `args`, log level and config overrides; it
 * resolves when the server has stopped, with the exit code. `held` are the signals that came before
 * it could install its handlers (held-signals.ts): it takes them as if they came once the handlers
 * were in place.
 */
export async function runServe(
  args: ParsedArgs,
  logLevel: string,
  overrides: ConfigOverrides,
  held?: HeldSignals,
): Promise<number> {
  const config = loadConfig(stringOption(args, 'config') ?? DEFAULT_CONFIG, overrides);
  refuseOtherNodesDir(config, listOption(args, 'node'));
  refuseUnfinishedLoads(config, listOption(args, 'node'));
  const log = createLogger(logLevel);
  const { DistkvNode } = await import('../server/node.js');
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
      // Absolute: a relative data_dir is taken from the working directory, and a start from another
      // one opened a new, empty directory, which the log did not show.
      data_dir: resolve(config.server.data_dir),
      durability: config.storage.durability,
      engine: config.storage.engine,
    },
    'starting distkv',
  );
  for (const w of ignoredSettings(args, config)) log.warn(w);
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

/**
 * ignoredSettings names the settings given that this start does not use, so an operator is not
 * left believing they apply: `--workers` (or `server.workers`) with `--inline`, whose stores run
 * on the main thread; durability and repair with the memory engine, which keeps nothing on disk.
 */
export function ignoredSettings(args: ParsedArgs, config: Config): string[] {
  const out: string[] = [];
  if (args.options.get('inline') === true && args.options.get('workers') !== undefined)
    out.push('--inline runs the stores on the main thread: --workers is ignored');
  if (config.storage.engine === 'memory') {
    if (args.options.get('durability') !== undefined)
      out.push(
        'the memory engine keeps nothing on disk: --durability is ignored (every write is lost at the stop)',
      );
    if (args.options.get('repair') === true)
      out.push('the memory engine keeps nothing on disk: --repair is ignored');
  }
  return out;
}
