/**
 * `distkv watch PREFIX`: print the changes of the keys under PREFIX as they happen (docs/watch.md),
 * through the client library's watch (reconnecting and resuming by itself). On a terminal one
 * line per event (`put KEY VALUE`, `delete KEY`, ... with its shard and version); piped or with
 * --json, one JSON object per line. Ctrl-C (or SIGTERM) stops it cleanly: exit 0, and the cursor
 * where the watch stood (after its last change, or further) on stderr so `--from` resumes there.
 */
import { stringOption } from './args.js';
import { type ClientVerb, positionals } from './connect.js';
import { displayBytes, jsonValue } from './output.js';

/** WATCH_VERBS holds the watch verb. */
export const WATCH_VERBS: Record<string, ClientVerb> = {
  watch: {
    usage: 'distkv watch [PREFIX]',
    summary: 'print the changes of the keys under a prefix as they happen, until Ctrl-C',
    details:
      'Events: put, delete, expire, and snapshot-begin/snapshot-end around the current keys when the\nlog no longer reaches back to --from. On a terminal: EVENT SHARD VERSION KEY [VALUE] lines;\npiped or with --json: one JSON object per line. Ctrl-C prints the cursor to resume from on stderr.',
    options: {
      from: {
        type: 'string',
        valueName: 'CURSOR',
        help: 'start after this cursor or version E.S (default: now)',
      },
      'no-values': { type: 'boolean', help: 'omit values' },
    },
    run: async (client, args, out) => {
      const prefix = positionals(args, 0, 1, 'distkv watch [PREFIX]')[0] ?? '';
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
