/**
 * The `distkv` command: dispatches to a verb and turns every error into one line on stderr and an
 * exit code (EXIT_CODES), never a stack trace (set DISTKV_DEBUG=1 to see one).
 */
import { readFileSync } from 'node:fs';
import { ConfigError, DistkvError } from '../errors.js';
import { UsageError } from './args.js';
import type { ClientVerb } from './connect.js';
import type { HeldSignals } from './held-signals.js';
import { afterWork } from './interrupt.js';
import { COMMAND_ALIASES, suggestion } from '../util/did-you-mean.js';
import { isVerbName, VERB_SUMMARIES, type VerbName } from './verb-table.js';

/** EXIT_CODES are what every verb exits with. */
export const EXIT_CODES = {
  /** OK: the command did what it was asked. */
  OK: 0,
  /** FAILED: the key does not exist, a node could not be reached, or the cluster refused the request. */
  FAILED: 1,
  /** USAGE: a mistake in the command line or its files (unknown verb or option, missing or extra argument, bad address, unreadable file, an argument a node refuses as malformed, a value over the node's limit). */
  USAGE: 2,
} as const;

/** Run runs a verb; `held` are the signals held while serve's modules loaded (serve takes them). */
type Run = (argv: readonly string[], held?: HeldSignals) => Promise<number>;

/**
 * clientVerb runs the client verb `name` of the table `load` imports. With `refusalsAreUsage`, a
 * node's 400 is a usage mistake (exit 2): the key and watch verbs send only what was typed.
 */
function clientVerb(
  name: VerbName,
  load: () => Promise<Record<string, ClientVerb>>,
  refusalsAreUsage: boolean,
): Run {
  return async (argv) => {
    const [verbs, connect] = await Promise.all([load(), import('./connect.js')]);
    const verb = verbs[name];
    if (verb === undefined) throw new Error(`the client verb table loaded for "${name}" has no such verb`);
    return connect.runClientVerb(refusalsAreUsage ? connect.refusalIsUsage(verb) : verb, argv);
  };
}

const kvVerbs = async (): Promise<Record<string, ClientVerb>> => (await import('./kv-commands.js')).KV_VERBS;
const clusterVerbs = async (): Promise<Record<string, ClientVerb>> =>
  (await import('./cluster-commands.js')).CLUSTER_VERBS;

// Each verb's module is imported only when that verb runs: `distkv --version`, `--help` and one
// verb do not load the others (the client, backup and restore, the server), so every call starts
// faster. Their names and summaries are in verb-table.ts.
const RUNS: Record<VerbName, Run> = {
  serve: async (argv, held) => (await import('./serve.js')).serve(argv, held),
  get: clientVerb('get', kvVerbs, true),
  set: clientVerb('set', kvVerbs, true),
  del: clientVerb('del', kvVerbs, true),
  scan: clientVerb('scan', kvVerbs, true),
  watch: clientVerb('watch', async () => (await import('./watch-command.js')).WATCH_VERBS, true),
  cluster: clientVerb('cluster', clusterVerbs, false),
  stats: clientVerb('stats', clusterVerbs, false),
  backup: clientVerb('backup', async () => ({ backup: (await import('./backup.js')).BACKUP_VERB }), false),
  restore: clientVerb(
    'restore',
    async () => ({ restore: (await import('./restore.js')).RESTORE_VERB }),
    false,
  ),
  failover: async (argv) => (await import('./failover-command.js')).failoverCommand(argv),
  diverged: async (argv) => (await import('./diverged-command.js')).divergedCommand(argv),
  map: async (argv) => (await import('./map-command.js')).mapCommand(argv),
  load: async (argv) => (await import('./load.js')).load(argv),
  bench: async (argv) => (await import('./bench.js')).bench(argv),
};

/** VERSION is the version of this distkv package. */
export const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** MAIN_HELP is the text of `distkv --help`. */
export const MAIN_HELP = `Usage: distkv <command> [options]

Commands:
${Object.entries(VERB_SUMMARIES)
  .map(([name, help]) => `  ${name.padEnd(10)}${help}`)
  .join('\n')}

Run "distkv <command> --help" for a command's options; "distkv --version" for the version.
Client commands talk to --url HOST:PORT (or env DISTKV_URL, comma-separated; default
127.0.0.1:8080); --url, --token, --ca and --json may come before the command or after it.

Exit codes: 0 ok; 1 not found, unreachable or refused by the cluster; 2 usage or file mistake.`;

/**
 * LEADING_OPTIONS are the client options that may come before the command, with whether each takes
 * a value: `distkv --url A get k` is `distkv get k --url A`, as etcdctl and redis-cli take their
 * endpoint first, and `distkv --json get k` and `distkv --token T backup f` read the same way.
 */
const LEADING_OPTIONS: Record<string, boolean> = {
  '--url': true,
  '--token': true,
  '--ca': true,
  '--json': false,
};

/**
 * leadingOptions moves the LEADING_OPTIONS given before the command (`--name value` or
 * `--name=value`) to just after it; the command's own parser then checks them. Given options but
 * no command, it returns no arguments at all (main says the command is missing: it used to call
 * "--url" an unknown command).
 */
function leadingOptions(argv: readonly string[]): string[] {
  const moved: string[] = [];
  let i = 0;
  for (;;) {
    const a = argv[i];
    if (a === undefined) break;
    const eq = a.indexOf('=');
    const takesValue = LEADING_OPTIONS[eq < 0 ? a : a.slice(0, eq)];
    if (takesValue === undefined) break;
    if (eq >= 0 || !takesValue) {
      moved.push(a);
      i += 1;
    } else if (argv[i + 1] !== undefined) {
      moved.push(a, argv[i + 1]!);
      i += 2;
    } else break;
  }
  if (i === 0) return [...argv];
  if (i >= argv.length) return [];
  return [argv[i]!, ...moved, ...argv.slice(i + 1)];
}

/**
 * main runs the CLI with argv (without node and script) and returns the exit code. `held` holds
 * the SIGINT and SIGTERM that came while `distkv serve` loaded its modules (bin/distkv.js).
 */
export async function main(argv: readonly string[], held?: HeldSignals): Promise<number> {
  try {
    return await dispatch(argv, held);
  } finally {
    // The command's work is done: a signal from here on does not turn its code into 130 or 143
    // while bin/distkv.js flushes its output (interrupt.ts). Held before serve's held signals are
    // let go, so that no moment is left without a listener.
    afterWork();
    held?.release();
  }
}

/** dispatch is `main` up to its exit path: the verb that `argv` names run, its exit code returned. */
async function dispatch(argv: readonly string[], held?: HeldSignals): Promise<number> {
  const [verb, ...rest] = leadingOptions(argv);
  if (verb === undefined && argv.length > 0) {
    process.stderr.write(
      `distkv: ${argv.join(' ')}: no command given\nRun "distkv --help" for the commands.\n`,
    );
    return EXIT_CODES.USAGE;
  }
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const topic = verb === 'help' ? rest[0] : undefined;
    if (topic !== undefined && isVerbName(topic)) return dispatch([topic, '--help']);
    // `distkv help nope` used to print the main help and exit 0, as if "nope" had help.
    if (topic !== undefined) return unknownCommand(topic);
    (verb === undefined ? process.stderr : process.stdout).write(`${MAIN_HELP}\n`);
    return verb === undefined ? EXIT_CODES.USAGE : EXIT_CODES.OK;
  }
  if (verb === '--version' || verb === '-V' || verb === 'version') {
    process.stdout.write(`distkv ${VERSION} (node ${process.version})\n`);
    return EXIT_CODES.OK;
  }
  // Only the verbs' own names: "constructor" or "toString" is an unknown command too.
  if (!isVerbName(verb)) return unknownCommand(verb);
  try {
    return await RUNS[verb](rest, held);
  } catch (err) {
    return report(verb, err, rest);
  }
}

/** unknownCommand says that `verb` is no command of distkv and returns the usage exit code. */
function unknownCommand(verb: string): number {
  if (LEADING_OPTIONS[verb] === true) {
    process.stderr.write(
      `distkv: ${verb} needs a value, and a command after it\nRun "distkv --help" for the commands.\n`,
    );
    return EXIT_CODES.USAGE;
  }
  const where = verb.startsWith('-')
    ? ` (options go after the command; only ${Object.keys(LEADING_OPTIONS).join(', ')} may come before it)`
    : '';
  const meant =
    where === '' ? suggestion(verb, Object.keys(VERB_SUMMARIES), (c) => `"${c}"`, COMMAND_ALIASES) : '';
  process.stderr.write(
    `distkv: unknown command "${verb}"${where}${meant}\nRun "distkv --help" for the commands.\n`,
  );
  return EXIT_CODES.USAGE;
}

/**
 * tokenHint says what to do about a node's UNAUTHORIZED: give the cluster's token, or another one
 * when the one given (--token in `argv`, else DISTKV_TOKEN) was refused. The node's own message
 * names its header and setting, not the command's option.
 */
function tokenHint(argv: readonly string[]): string {
  const given = argv.findIndex((a) => a === '--token' || a.startsWith('--token='));
  if (given >= 0) return " (the --token given is not the nodes' server.token)";
  if ((process.env.DISTKV_TOKEN ?? '') !== '') return " (DISTKV_TOKEN is not the nodes' server.token)";
  return ' (this cluster has a token: give it with --token TOKEN or env DISTKV_TOKEN)';
}

/** report prints a verb's error as one line (plus a hint) and returns its exit code. */
function report(verb: string, err: unknown, argv: readonly string[]): number {
  if (process.env.DISTKV_DEBUG === '1') process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  if (err instanceof UsageError) {
    const hint = err.helps ? `Run "distkv ${verb} --help" for usage.\n` : '';
    process.stderr.write(`distkv ${verb}: ${err.message}\n${hint}`);
    return EXIT_CODES.USAGE;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`distkv ${verb}: ${err.message}\n`);
    return EXIT_CODES.USAGE;
  }
  if (err instanceof DistkvError) {
    const hint = err.code === 'UNAUTHORIZED' ? tokenHint(argv) : '';
    process.stderr.write(`distkv ${verb}: ${err.code}: ${err.message}${hint}\n`);
    return EXIT_CODES.FAILED;
  }
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  // Out of file descriptors (`ulimit -n 64`: serve could not even load its modules): say which limit.
  const files =
    e?.code === 'EMFILE'
      ? '; the open-file limit is too low: raise it (ulimit -n 65536, or LimitNOFILE= in a systemd unit)'
      : '';
  process.stderr.write(
    `distkv ${verb}: ${typeof e?.message === 'string' ? e.message : String(err)}${files} (DISTKV_DEBUG=1 shows where)\n`,
  );
  return EXIT_CODES.FAILED;
}
