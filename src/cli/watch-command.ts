/**
 * `distkv watch PREFIX`: print the changes of the keys under PREFIX as they happen (docs/watch.md),
 * through the client library's watch (reconnecting and resuming by itself). On a terminal one
 * line per event (`put KEY VALUE`, `delete KEY`, ... with its shard and version); piped or with
 * --json, one JSON object per line. Ctrl-C (or SIGTERM) stops it cleanly: exit 0, and the cursor
 * where the watch stood (after its last change, or further) on stderr so `--from` resumes there.
 * While a stream is down (its node stopped, restarting, unreachable) stderr says so once, with what
 * the watch is doing, and once when it is back: silence on stdout is then "no changes", never a
 * dropped connection (stdout carries only events, as it may be piped as JSON lines).
 */
import type { WatchStreamNotice } from '../client/watch.js';
import { plural } from '../util/plural.js';
import { stringOption } from './args.js';
import type { ClientVerb } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { PREFIX_BASE64_OPTION, prefixArgument } from './kv-commands.js';
import { displayBytes, jsonValue } from './output.js';

/** WATCH_VERBS holds the watch verb. */
export const WATCH_VERBS: Record<string, ClientVerb> = {
  watch: {
    usage: 'distkv watch [PREFIX] | distkv watch --prefix-base64 B64',
    summary: VERB_SUMMARIES.watch,
    details:
      'Events: put, delete, expire, and snapshot-begin/snapshot-end around the current keys when the\nlog no longer reaches back to --from. On a terminal: EVENT SHARD VERSION KEY [VALUE] lines;\npiped or with --json: one JSON object per line. Ctrl-C prints the cursor to resume from on stderr.\nWhen a node stops or cannot be reached, stderr says so and that the watch is reconnecting, and\nsays again when it is back; it then goes on exactly after the last change printed.',
    options: {
      from: {
        type: 'string',
        valueName: 'CURSOR',
        nonEmpty: true,
        help: "start after this cursor (Ctrl-C prints it; default: now); a write's version E.S is its shard's: give it as SHARD:E.S",
      },
      'no-values': { type: 'boolean', help: 'omit values' },
      'prefix-base64': PREFIX_BASE64_OPTION,
    },
    check: (args) => prefixArgument(args, 'watch'),
    run: async (client, args, out, conn) => {
      // --prefix-base64 as the scan takes it: keys that are not UTF-8 were printed (key_base64)
      // but could not be watched by their own bytes.
      const prefix = prefixArgument(args, 'watch');
      const from = stringOption(args, 'from');
      const stop = new AbortController();
      const onSignal = (): void => {
        stop.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const lines = out.json || !process.stdout.isTTY;
      let cursor = from ?? '';
      try {
        // With progress events the cursor follows the stream's position, not only its last change:
        // Ctrl-C before any change printed no cursor (or `--from now` again), and a resume from it
        // skipped every change made in between.
        const events = client.watch(prefix, {
          signal: stop.signal,
          values: args.options.get('no-values') !== true,
          progress: true,
          onStream: (notice) => {
            // From now on the watch reconnects for as long as it runs: a refused node is waited for
            // until it is back, not the 10 s the wait note said (after which the watch went on).
            if (notice.state === 'down') conn.untilBack = true;
            const line = streamNote(notice);
            if (line !== undefined) process.stderr.write(`${line}\n`);
          },
          ...(from === undefined ? {} : { from }),
        });
        for await (const ev of events) {
          cursor = ev.cursor;
          if (ev.type === 'progress') continue;
          if (lines) {
            // A key that is not UTF-8 also as key_base64, as `distkv scan --json` writes it.
            const { value, keyBytes, ...rest } = ev;
            out.line(
              JSON.stringify({
                ...rest,
                ...(keyBytes === undefined ? {} : { key_base64: keyBytes.toString('base64') }),
                ...(value === undefined ? {} : jsonValue(value)),
              }),
            );
          } else {
            const what = ev.snapshot === true ? 'snapshot' : ev.type;
            const parts = [what, String(ev.shard), ev.version ?? '-'];
            if (ev.key !== undefined) parts.push(displayBytes(ev.keyBytes ?? Buffer.from(ev.key)));
            if (ev.value !== undefined) parts.push(displayBytes(ev.value));
            out.line(parts.join(' '));
          }
          await out.drained();
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (cursor !== '') process.stderr.write(`cursor: ${cursor}\n`);
      return 0;
    },
  },
};

/**
 * streamNote is the stderr line for a watch stream's notice: one when it goes down (its first
 * failed attempt: later ones would repeat it every 2 s for as long as a node is down), one when it
 * is back; undefined for the attempts in between.
 */
export function streamNote(n: WatchStreamNotice): string | undefined {
  const what = `the stream of shard${n.shards.length === 1 ? '' : 's'} ${n.shards.join(',')}`;
  if (n.state === 'down') {
    if (n.attempt !== 1) return undefined;
    return `distkv watch: ${what} from ${n.node} is down (${n.reason}); reconnecting to the shards' leader (attempt 1, retrying every 0.1-2 s): changes resume after the last one printed`;
  }
  const secs = ((n.downMs ?? 0) / 1000).toFixed(1);
  return `distkv watch: ${what} is back, from ${n.node} (down ${secs} s, ${plural(n.attempt, 'attempt')})`;
}
