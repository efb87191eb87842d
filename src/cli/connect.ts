/**
 * The options every client verb shares (which nodes, token, CA, output) and the client they build.
 * Nodes come from `--url` (repeatable or comma-separated), else `DISTKV_URL` (comma-separated, like
 * `ETCDCTL_ENDPOINTS`), else 127.0.0.1:8080; each is `host:port` or `http(s)://host:port`.
 * `--ca FILE` (or `DISTKV_CA`) trusts a private CA for https:// nodes.
 *
 * The client library (~45 modules) is imported only once a verb's options are checked and it is
 * about to connect: `distkv get --help` and a mistake in an option answer without loading it.
 */
import type { DistkvClient } from '../client/client.js';
import { TOKEN_RULE, tokenProblem } from '../util/bearer-token.js';
import type { TimeoutFacts, WaitNotice } from '../client/types.js';
import { endpointsFromEnv, parseEndpoint } from '../client/endpoint.js';
import { DistkvError } from '../errors.js';
import {
  emptyItem,
  formatOptions,
  intOption,
  listOption,
  type OptionSpec,
  type ParsedArgs,
  parseArgs,
  stringOption,
  UsageError,
  usageOnRefusal,
} from './args.js';
import { readInput } from './files.js';
import { Output } from './output.js';

/** DEFAULT_URL is the node the client verbs talk to when neither --url nor DISTKV_URL is given. */
export const DEFAULT_URL = '127.0.0.1:8080';

/**
 * REFUSED_WAIT_MS is how long a verb waits for a node that refuses connections: a node restarting
 * (systemd, a rolling restart) leaves its port closed for a few seconds between its old process
 * and its new one, which then answers STARTING (waited for too). Longer, the node is down: the verb
 * fails with exit 1, saying so. `--refused-wait-ms` sets it (a script that would rather fail at
 * once, or a restart known to take longer).
 */
export const REFUSED_WAIT_MS = 10000;
/** MAX_REFUSED_WAIT_MS bounds --refused-wait-ms (an hour: a node closed that long is down, not restarting). */
export const MAX_REFUSED_WAIT_MS = 3_600_000;

/** CONNECT_OPTIONS are the options of every verb that talks to a cluster. */
export const CONNECT_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'list',
    valueName: 'HOST:PORT',
    help: `a node of the cluster, or http(s)://HOST:PORT (repeatable; default env DISTKV_URL, else ${DEFAULT_URL})`,
  },
  token: {
    type: 'string',
    valueName: 'TOKEN',
    help: 'bearer token (else env DISTKV_TOKEN; --token "" sends none)',
  },
  ca: {
    type: 'string',
    valueName: 'FILE',
    help: "PEM file of the CA that signed the nodes' certificates (or env DISTKV_CA)",
  },
  'refused-wait-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long a node that refuses connections (stopped, or restarting) is tried again before the command gives up on it (default ${REFUSED_WAIT_MS}; 0: not at all)`,
  },
  json: { type: 'boolean', help: 'print JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** refusedWaitMs returns --refused-wait-ms (REFUSED_WAIT_MS when absent); a value out of 0..MAX_REFUSED_WAIT_MS is a UsageError naming the bound. */
export function refusedWaitMs(args: ParsedArgs): number {
  return (
    intOption(args, 'refused-wait-ms', { min: 0, max: MAX_REFUSED_WAIT_MS, what: ' ms' }) ?? REFUSED_WAIT_MS
  );
}

/**
 * envEndpoints is the addresses of DISTKV_URL (none when unset or "", as DISTKV_CA and DISTKV_TOKEN
 * read an empty variable). A list with a blank item (`,`, ` `, `a,,b`, `a,`: a list built from a
 * variable that was empty) is a UsageError naming it: falling back to 127.0.0.1:8080, as it did,
 * sends the command to whatever node listens there.
 */
export function envEndpoints(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env.DISTKV_URL;
  if (value === undefined || value === '') return [];
  const empty = emptyItem(value);
  if (empty !== undefined)
    throw new UsageError(
      `DISTKV_URL ${JSON.stringify(value)}: item ${empty} is empty; give HOST:PORT items separated by commas`,
    );
  return endpointsFromEnv(value);
}

/** endpoints returns the nodes a verb talks to, checked: a malformed address is a UsageError. */
export function endpoints(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string[] {
  const given = listOption(args, 'url');
  const fromEnv = given.length > 0 ? [] : envEndpoints(env);
  const list = given.length > 0 ? given : fromEnv.length > 0 ? fromEnv : [DEFAULT_URL];
  const source = given.length > 0 ? '--url' : fromEnv.length > 0 ? 'DISTKV_URL' : 'default';
  return list.map((u) => {
    try {
      return parseEndpoint(u);
    } catch (err) {
      if (err instanceof DistkvError) throw new UsageError(`${source}: ${err.message}`);
      throw err;
    }
  });
}

/** Connection is what a verb needs to reach the cluster. */
export interface Connection {
  urls: string[];
  token: string;
  ca: Buffer | undefined;
  /**
   * waited holds what the verb's requests have waited for and said so on stderr ("CODE node", see
   * waitNote): a verb that would say "no answer yet" (slow-note.ts) stays quiet after such a line.
   */
  waited: Set<string>;
  /**
   * askBoundMs, once a verb sets it, bounds each of its requests from then on (`cluster` asks each
   * other node for PEER_ASK_MS): a wait note promises no longer wait than that.
   */
  askBoundMs: number | undefined;
  /**
   * untilBack, once a verb sets it, says its waits end only when the node is back (a watch whose
   * stream went down reconnects for as long as it runs): a wait note promises no bound.
   */
  untilBack: boolean;
  /**
   * progress, once a verb draws a progress line (restore, backup), is erased before a wait note is
   * written: on a terminal the line has no newline, and the note ran on after its text
   * ("restore: 2000 keys writtendistkv restore: node ... is stopping"). The next update redraws it.
   */
  progress: { clear(): void } | undefined;
}

/** connection reads the nodes, token and CA of a verb's options (and environment). */
export function connection(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Connection {
  const caGiven = stringOption(args, 'ca');
  const caFile = caGiven ?? env.DISTKV_CA;
  return {
    urls: endpoints(args, env),
    token: tokenOption(args, env),
    ca:
      caFile === undefined || caFile === ''
        ? undefined
        : readInput(caFile, undefined, caGiven === undefined ? 'DISTKV_CA' : '--ca'),
    waited: new Set(),
    askBoundMs: undefined,
    untilBack: false,
    progress: undefined,
  };
}

/**
 * tokenOption is the bearer token of a verb's options: `--token` (even "", which sends none), else
 * DISTKV_TOKEN, else none. The client refuses a token a header cannot carry (INVALID_ARGUMENT,
 * util/bearer-token.ts); here it is a usage mistake naming its source.
 */
export function tokenOption(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const given = stringOption(args, 'token');
  const token = given ?? env.DISTKV_TOKEN ?? '';
  const problem = tokenProblem(token);
  if (problem !== undefined)
    throw new UsageError(`${given === undefined ? 'DISTKV_TOKEN' : '--token'} ${problem}: ${TOKEN_RULE}`);
  return token;
}

/**
 * waitNote is the stderr line of a request that waits for a node starting or refusing connections,
 * or for a leader switch (the client's onWait): the command is not stuck and will go on by itself.
 */
export function waitNote(verb: string, n: WaitNotice, askBoundMs = Infinity, untilBack = false): string {
  const upTo = untilBack
    ? 'until it is back; Ctrl-C gives up'
    : `up to ${Math.ceil(Math.min(n.waitMs, askBoundMs) / 1000)} s; Ctrl-C gives up`;
  if (n.code === 'REFUSED')
    return `distkv ${verb}: nothing listens at ${n.node} (connection refused: a node stopped or restarting); trying again (${upTo})`;
  if (n.code === 'STARTING')
    return `distkv ${verb}: node ${n.node} is starting (its stores are opening); waiting for it (${upTo})`;
  const shard = n.shard === undefined ? 'a shard' : `shard ${n.shard}`;
  if (n.code === 'DRAINING')
    return `distkv ${verb}: node ${n.node} is stopping; waiting for ${shard}'s next leader (${upTo})`;
  return `distkv ${verb}: ${shard} is switching leader (at ${n.node}); waiting for the switch (${upTo})`;
}

/**
 * cliTimeout words the client's timeout in a CLI verb's error for a node that sent no answer in
 * time (the client's describeTimeout): the library's "the client's timeout (timeoutMs 10000 ms)"
 * named an option the CLI user cannot set, beside a --timeout-ms of set, del and get that bounds
 * only the wait for --w. It says the bound in seconds, that it is fixed, and what --timeout-ms is
 * when the verb has it (`waitOption`).
 */
export function cliTimeout(waitOption: boolean): (t: TimeoutFacts) => string {
  return (t) => {
    const bound = `${String(t.timeoutMs / 1000)} s`;
    const wait = t.waitMs > 0 ? ` plus ${String(t.waitMs)} ms for --w (--timeout-ms)` : '';
    const fixed = `the ${bound} of each attempt is fixed${waitOption ? ': --timeout-ms bounds only the wait for --w' : ''}`;
    return `${bound}${wait} (${t.tries === undefined ? '' : `${t.tries}; `}${fixed})`;
  };
}

/** verbName is a client verb's name, as its usage starts ("distkv get KEY" → "get"). */
function verbName(verb: ClientVerb): string {
  return verb.usage.split(' ')[1] ?? 'distkv';
}

/** ClientVerb is a verb that talks to a cluster through the client library. */
export interface ClientVerb {
  usage: string;
  summary: string;
  /** details follow the summary in --help (exit codes, examples). */
  details?: string;
  options: Record<string, OptionSpec>;
  /**
   * check reads the arguments that `run` reads first (the positionals), throwing their UsageError.
   * It runs before the client library loads: a missing or extra argument answers without it.
   */
  check: (args: ParsedArgs) => unknown;
  run: (client: DistkvClient, args: ParsedArgs, out: Output, conn: Connection) => Promise<number>;
}

/** clientVerbHelp is the --help text of a client verb. */
export function clientVerbHelp(verb: ClientVerb): string {
  const specs = { ...CONNECT_OPTIONS, ...verb.options };
  // The summary is a line of `distkv --help` (lower case there); here it opens a paragraph, as the
  // help of serve, load and map does.
  const summary = verb.summary.charAt(0).toUpperCase() + verb.summary.slice(1);
  return `Usage: ${verb.usage}\n\n${summary}.${verb.details === undefined ? '' : `\n\n${verb.details}`}\n\nOptions:\n${formatOptions(specs)}`;
}

/** runClientVerb parses a client verb's options, connects and runs it; returns the exit code. */
export async function runClientVerb(verb: ClientVerb, argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, { ...CONNECT_OPTIONS, ...verb.options });
  const out = new Output(args.options.get('json') === true);
  if (args.options.get('help') === true) {
    out.line(clientVerbHelp(verb));
    return 0;
  }
  const conn = connection(args);
  const refusedWait = refusedWaitMs(args);
  verb.check(args);
  const { DistkvClient } = await import('../client/client.js');
  const client = new DistkvClient({
    urls: conn.urls,
    token: conn.token,
    replicaReads: args.options.get('replica') === true,
    refusedWaitMs: refusedWait,
    ...(conn.ca === undefined ? {} : { ca: conn.ca }),
    describeTimeout: cliTimeout('timeout-ms' in verb.options),
    // Once per node and reason for the whole verb: a scan or a restore sends many requests.
    onWait: (n) => {
      const what = `${n.code} ${n.node}`;
      if (conn.waited.has(what)) return;
      conn.waited.add(what);
      conn.progress?.clear();
      process.stderr.write(`${waitNote(verbName(verb), n, conn.askBoundMs, conn.untilBack)}\n`);
    },
  });
  try {
    return await verb.run(client, args, out, conn);
  } finally {
    await client.close();
  }
}

/** positionals checks the number of positional arguments (a UsageError naming the usage otherwise). */
export function positionals(args: ParsedArgs, min: number, max: number, usage: string): string[] {
  const n = args.positionals.length;
  if (n < min) throw new UsageError(`missing argument: ${usage}`);
  if (n > max) throw new UsageError(`unexpected argument "${args.positionals[max]!}": ${usage}`);
  return args.positionals;
}

/** refusalIsUsage wraps a verb's run in usageOnRefusal (see there for which verbs it fits). */
export function refusalIsUsage(v: ClientVerb): ClientVerb {
  return { ...v, run: (...a: Parameters<ClientVerb['run']>) => usageOnRefusal(() => v.run(...a)) };
}
