/**
 * The `distkv` command: dispatches to a verb and turns errors into clear messages and exit codes
 * (0 ok, 1 runtime failure, 2 usage or configuration error).
 */
import { ConfigError, DistkvError } from '../errors.js';
import { UsageError } from './args.js';
import { bench } from './bench.js';
import { failoverCommand } from './failover.js';
import { KV_VERBS, runKvVerb } from './kv-commands.js';
import { serve } from './serve.js';

const VERBS: Record<string, { help: string; run: (argv: readonly string[]) => Promise<number> }> = {
  serve: { help: 'run distkv nodes from a config file', run: serve },
  ...Object.fromEntries(
    Object.entries(KV_VERBS).map(([name, v]) => [
      name,
      { help: v.summary, run: (argv: readonly string[]) => runKvVerb(name, argv) },
    ]),
  ),
  failover: { help: "move a shard's leadership to a replica (planned or --force)", run: failoverCommand },
  bench: {
    help: 'load generator: throughput and latency percentiles of a node, a cluster or redis',
    run: bench,
  },
};

/** MAIN_HELP is the text of `distkv --help`. */
export const MAIN_HELP = `Usage: distkv <command> [options]

Commands:
${Object.entries(VERBS)
  .map(([name, v]) => `  ${name.padEnd(10)}${v.help}`)
  .join('\n')}

Run "distkv <command> --help" for a command's options.`;

/** main runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return verb === undefined ? 2 : 0;
  }
  const command = VERBS[verb];
  if (command === undefined) {
    process.stderr.write(`distkv: unknown command "${verb}"\n\n${MAIN_HELP}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`distkv ${verb}: ${err.message}\nRun "distkv ${verb} --help" for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`distkv ${verb}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DistkvError) {
      process.stderr.write(`distkv ${verb}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
