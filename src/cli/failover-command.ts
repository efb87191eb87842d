/**
 * The `distkv failover` verb: its options and output around `failover` (src/cli/failover.ts,
 * docs/failover.md). A refusal naming a --shard, --to or --force that does not fit the cluster
 * (INVALID_ARGUMENT) exits 2. Ctrl-C (or SIGTERM) before the new map is posted releases the
 * command's holds and exits 130 (143) saying nothing changed; after, the failover runs to its end.
 */
import { parseEndpoint } from '../client/endpoint.js';
import {
  formatOptions,
  type OptionSpec,
  parseArgs,
  stringOption,
  UsageError,
  listOption,
  intOption,
  usageOnRefusal,
} from './args.js';
import { CONNECT_OPTIONS, envEndpoints, tokenOption } from './connect.js';
import { FENCE_SLACK_MS, MAX_FENCE_SLACK_MS, MAX_HOLD_MS, MIN_FENCE_SLACK_MS } from './failover-calls.js';
import { readInput } from './files.js';
import { failover } from './failover.js';
import { stopOnSignal } from './interrupt.js';

/**
 * --timeout-ms is bounded by MAX_HOLD_MS less the slack (--hold-slack-ms, FENCE_SLACK_MS by
 * default): the leader's hold lasts the timeout plus the slack, and a node takes a hold of at most
 * an hour (src/http/failover-routes.ts, MAX_FENCE_MS). Past it the command failed with INTERNAL and
 * the node's 400 about an `ms` parameter the user never gave.
 */
const MAX_TIMEOUT_MS = MAX_HOLD_MS - FENCE_SLACK_MS;

const OPTIONS: Record<string, OptionSpec> = {
  // Said as the other client commands say it: http(s)://HOST:PORT is taken here too.
  url: CONNECT_OPTIONS.url!,
  shard: { type: 'string', valueName: 'NAME', nonEmpty: true, help: 'the shard to move (its name or idx)' },
  to: {
    type: 'string',
    valueName: 'ADDR',
    nonEmpty: true,
    help: 'the replica to promote (default: the most advanced); with --force, never one behind another that answers',
  },
  force: {
    type: 'boolean',
    help: 'promote without the leader (when it is unreachable): w=0 writes no replica copied are lost; refused while a replica does not answer unless --to names the target',
  },
  'force-resyncing': {
    type: 'boolean',
    help: 'promote the target even while it resyncs from a leader snapshot (its content may be partial or fuzzy until the resync ends)',
  },
  'timeout-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long the target may take to catch up (default 30000, at most ${MAX_TIMEOUT_MS}: this plus --hold-slack-ms is at most ${MAX_HOLD_MS}; 0: only if it already has)`,
  },
  'hold-slack-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long the holds outlast the catch-up if this command dies: the leader's writes are held for --timeout-ms plus this, the replicas' following for this (default ${FENCE_SLACK_MS}, ${MIN_FENCE_SLACK_MS}..${MAX_FENCE_SLACK_MS})`,
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
  json: { type: 'boolean', help: 'print JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** failoverCommand is the `distkv failover` verb. */
export async function failoverCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(
      `Usage: distkv failover --shard NAME [--to ADDR] [--force] [--force-resyncing]\n\nMove a shard's leadership to a replica (planned, or --force without the leader).\n\nOptions:\n${formatOptions(OPTIONS)}\n\nExit 0 when the new leader took over, 1 when the failover failed or was refused (the message says why\nand what to do; docs/failover.md), 2 for usage mistakes and a --shard, --to or --force that does not\nfit the cluster.\n`,
    );
    return 0;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]!}": options only (--shard NAME)`);
  const shard = stringOption(args, 'shard');
  if (shard === undefined) throw new UsageError('--shard is required');
  const to = stringOption(args, 'to');
  const given = listOption(args, 'url');
  const urls = given.length > 0 ? given : envEndpoints();
  const caGiven = stringOption(args, 'ca');
  const caFile = caGiven ?? process.env.DISTKV_CA ?? '';
  const holdSlackMs =
    intOption(args, 'hold-slack-ms', { min: MIN_FENCE_SLACK_MS, max: MAX_FENCE_SLACK_MS, what: ' ms' }) ??
    FENCE_SLACK_MS;
  const timeoutMs =
    intOption(args, 'timeout-ms', { min: 0, max: MAX_HOLD_MS - holdSlackMs, what: ' ms' }) ?? 30000;
  // Ctrl-C stops the failover before it posts the new map, releasing what it held (the leader's
  // writes, the replicas' following); a second one exits at once and leaves its holds to run out.
  const token = tokenOption(args);
  const stop = new AbortController();
  const signals = stopOnSignal(() => {
    stop.abort(new Error('interrupted'));
  }, "distkv failover: interrupted: releasing this failover's holds (Ctrl-C again exits at once; they then run out by themselves)");
  // failover's INVALID_ARGUMENT names a --shard, --to or --force that does not fit the cluster: exit 2.
  let r: Awaited<ReturnType<typeof failover>>;
  try {
    r = await usageOnRefusal(() =>
      failover({
        urls: (urls.length > 0 ? urls : ['127.0.0.1:8080']).map(parseEndpoint),
        shard,
        ...(to === undefined ? {} : { to }),
        force: args.options.get('force') === true,
        forceResyncing: args.options.get('force-resyncing') === true,
        token,
        ...(caFile === ''
          ? {}
          : { ca: readInput(caFile, undefined, caGiven === undefined ? 'DISTKV_CA' : '--ca') }),
        timeoutMs,
        holdSlackMs,
        signal: stop.signal,
      }),
    );
  } catch (err) {
    const code = signals.exitCode();
    if (code === undefined || err !== stop.signal.reason) throw err;
    process.stderr.write(
      'distkv failover: stopped before the new map was posted: holds released, nothing changed\n',
    );
    return code;
  } finally {
    signals.done();
  }
  if (signals.exitCode() !== undefined)
    process.stderr.write(
      'distkv failover: the interrupt came after the new map was posted: the failover completed\n',
    );
  if (args.options.get('json') === true) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `${r.shard}: leader ${r.from} → ${r.to} in epoch ${r.epoch} (map version ${r.mapVersion}, ${r.ms} ms; promoted at seq ${r.targetSeq})` +
        (r.unreached.length === 0
          ? '\n'
          : `\nnot reached (they learn it from peers): ${r.unreached.join(', ')}\n`),
    );
  return 0;
}
