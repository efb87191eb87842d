/**
 * The key verbs of `distkv`: get, set, del, scan. Each talks to a cluster through the client library
 * (routing keys to their owners itself) and prints as output.ts says (terminal, pipe or --json).
 * Exit codes: 0 ok, 1 not found or failed, 2 usage (see main.ts).
 */
import type { DistkvClient } from '../client/client.js';
import { type Key, shardOfKey } from '../client/key-bytes.js';
import type { ScanPage } from '../client/types.js';
import { SCAN_DEFAULT_LIMIT, SCAN_MAX_LIMIT } from '../http/scan-limit.js';
import { MAX_TTL_MS, MAX_W_TIMEOUT_MS } from '../http/write-conditions.js';
import { parseVersion } from '../routing/version.js';
import { plural } from '../util/plural.js';
import { intOption, type ParsedArgs, stringOption, UsageError } from './args.js';
import { SLOW_NOTE_MS, withSlowNote } from './slow-note.js';
import { type ClientVerb, positionals } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { readInput } from './files.js';
import { whileInterruptible } from './interrupt.js';
import { displayBytes, hasControlChar, jsonValue } from './output.js';

/** ifMatchOption returns --if-match, checked: a version E.S (as get --show-version prints it) or "*". */
function ifMatchOption(args: ParsedArgs): string | undefined {
  const v = stringOption(args, 'if-match');
  if (v === undefined || v === '*' || parseVersion(v) !== undefined) return v;
  throw new UsageError(
    `--if-match must be a version E.S as get --show-version prints it (digits, no leading zeros) or "*", got "${v}"`,
  );
}

/** base64Key returns option `name`, a key in canonical base64, as its bytes (undefined when not given). */
function base64Key(args: ParsedArgs, name: string): Buffer | undefined {
  const b64 = stringOption(args, name);
  if (b64 === undefined) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== b64)
    throw new UsageError(`--${name} must be a key in canonical base64, got "${b64}"`);
  return bytes;
}

/** afterOption returns where a scan starts: --after as text, or --after-base64 as the key's bytes. */
function afterOption(args: ParsedArgs): string | Buffer | undefined {
  const text = stringOption(args, 'after');
  const bytes = base64Key(args, 'after-base64');
  if (bytes === undefined) return text;
  if (text !== undefined) throw new UsageError('give --after or --after-base64, not both');
  return bytes;
}

/**
 * afterHint is the option that starts a scan after `key`, as a shell takes it when pasted: text in
 * double quotes, or in single quotes when it holds what a shell expands there ($ ` \ " !), and
 * --after-base64 for a key that is not UTF-8 or holds a control character. It used to be the key
 * as JSON, which a shell reads as another key ("a$HOME", "t\tb"): the scan then went on after
 * that key, skipping or repeating keys.
 */
function afterHint(key: string, keyBytes: Buffer | undefined): string {
  if (keyBytes !== undefined || hasControlChar(key))
    return `--after-base64 ${(keyBytes ?? Buffer.from(key)).toString('base64')}`;
  if (!/[$`\\"!]/.test(key)) return `--after "${key}"`;
  return `--after '${key.replaceAll("'", "'\\''")}'`;
}

/** KEY_BASE64 is the --key-base64 option of get, set and del. */
const KEY_BASE64 = {
  'key-base64': {
    type: 'string',
    valueName: 'B64',
    help: 'the key as base64, in place of KEY (a key that is not UTF-8, as scan --json gives it)',
  },
} as const;

/**
 * keyAndRest returns the key (KEY, or --key-base64's bytes for a key that is not UTF-8: an
 * argument is text, and the scan's display of such a key, escaped, is another key) and the
 * `rest` positionals after it.
 */
function keyAndRest(args: ParsedArgs, rest: number, usage: string): [Key, ...string[]] {
  const bytes = base64Key(args, 'key-base64');
  if (bytes === undefined) return positionals(args, 1 + rest, 1 + rest, usage) as [string, ...string[]];
  return [bytes, ...positionals(args, rest, rest, `${usage} (with --key-base64, no KEY)`)];
}

/** getKey is the key of `distkv get`. */
const getKey = (args: ParsedArgs): Key => keyAndRest(args, 0, 'distkv get KEY')[0];

/** delKey is the key of `distkv del`. */
const delKey = (args: ParsedArgs): Key => keyAndRest(args, 0, 'distkv del KEY')[0];

/** setKeyAndText is the key of `distkv set` and its VALUE argument (none with --file). */
function setKeyAndText(args: ParsedArgs): [Key, string | undefined] {
  if (stringOption(args, 'file') !== undefined)
    return [keyAndRest(args, 0, 'distkv set KEY --file FILE')[0], undefined];
  const [key, text] = keyAndRest(args, 1, 'distkv set KEY VALUE') as [Key, string];
  return [key, text];
}

/** PREFIX_BASE64_OPTION is the `--prefix-base64` of scan and watch. */
export const PREFIX_BASE64_OPTION = {
  type: 'string',
  valueName: 'B64',
  help: 'the prefix as base64, in place of PREFIX (bytes that are not UTF-8)',
} as const;

/**
 * prefixArgument returns the prefix of a scan or a watch (`verb`): PREFIX (text, '' when none), or
 * --prefix-base64's bytes.
 */
export function prefixArgument(args: ParsedArgs, verb: string): Key {
  const bytes = base64Key(args, 'prefix-base64');
  if (bytes === undefined) return positionals(args, 0, 1, `distkv ${verb} [PREFIX]`)[0] ?? '';
  positionals(args, 0, 0, `distkv ${verb} --prefix-base64 B64 (with --prefix-base64, no PREFIX)`);
  return bytes;
}

/** keyJson is the key of a --json line: "key", or "key_base64" for bytes. */
function keyJson(key: Key): { key: string } | { key_base64: string } {
  return typeof key === 'string' ? { key } : { key_base64: Buffer.from(key).toString('base64') };
}

/** displayKey shows a key in a message: quoted text, or its bytes escaped as scan shows them. */
function displayKey(key: Key): string {
  return typeof key === 'string' ? JSON.stringify(key) : displayBytes(key);
}

/** WRITE_CONCERN are the --w and --timeout-ms options of set and del. */
const WRITE_CONCERN = {
  w: {
    type: 'string',
    valueName: 'N',
    help: 'wait until N replicas hold the write (N from 0 to the replicas of its shard)',
  },
  'timeout-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long to wait for --w, 1..${MAX_W_TIMEOUT_MS} ms (default 5000)`,
  },
} as const;

/** READ_CONCERN are the --w and --timeout-ms options of get (docs/api.md, "Write concern and what reads see"). */
const READ_CONCERN = {
  w: {
    type: 'string',
    valueName: 'N',
    help: "answer once N replicas hold what the leader read (N from 0 to the replicas of the key's shard): a value a failover keeps",
  },
  'timeout-ms': WRITE_CONCERN['timeout-ms'],
} as const;

/**
 * concernOptions returns --w and --timeout-ms as the client takes them, and how long the write (or
 * a get with --w) may go unanswered before anything is wrong (a --w write waits its --timeout-ms for replicas). --w is
 * checked against the replicas of the key's shard in the cluster's map, with one message for every
 * value refused: "-1" and "abc" were "must be a non-negative integer" and "5" the node's "w must be
 * an integer in 0..1", neither saying both bounds in the option's name.
 */
async function concernOptions(
  args: ParsedArgs,
  client: DistkvClient,
  key: Key,
): Promise<{ concern: { w?: number; timeoutMs?: number }; slowMs: number }> {
  const wText = stringOption(args, 'w');
  // Checked here with its bound: the node's refusal named its own parameter, timeout_ms.
  const timeoutMs = intOption(args, 'timeout-ms', { min: 1, max: MAX_W_TIMEOUT_MS, what: ' ms' });
  // Checked here, not left to the client library, whose refusal names its own timeoutMs and signal.
  if (timeoutMs !== undefined && wText === undefined)
    throw new UsageError('--timeout-ms bounds the wait for --w and is given without --w: give --w N too');
  let w: number | undefined;
  if (wText !== undefined) {
    const map = await client.topology();
    const shard = map.shard(shardOfKey(map, key));
    const replicas = shard.replicas.length;
    w = /^\d{1,16}$/.test(wText) ? Number(wText) : NaN;
    if (!(w <= replicas))
      throw new UsageError(
        replicas === 0
          ? `--w must be 0, got "${wText}": ${shard.name}, the key's shard, has no replicas to wait for`
          : `--w must be an integer in 0..${replicas} (the replicas of ${shard.name}, the key's shard), got "${wText}"`,
      );
  }
  return {
    concern: { ...(w === undefined ? {} : { w }), ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    slowMs: SLOW_NOTE_MS + (w === undefined ? 0 : (timeoutMs ?? 5000)),
  };
}

/** KV_VERBS are the key verbs, by name. */
export const KV_VERBS: Record<string, ClientVerb> = {
  get: {
    usage: 'distkv get KEY | distkv get --key-base64 B64',
    summary: VERB_SUMMARIES.get,
    details:
      'On a terminal the value is shown as text with a newline (bytes that are not printable text are\nescaped); piped, the exact bytes are written and nothing else. --json prints {"key","value"}, or\n{"key","value_base64"} when the value is not UTF-8.\nWith --w N the key\'s leader answers only once N replicas hold everything it had when it read the\nkey, so what is printed (or "not found") is not undone by a failover; else exit 1 with\nREPLICATION_TIMEOUT after --timeout-ms. Not with --replica.',
    options: {
      ...KEY_BASE64,
      ...READ_CONCERN,
      replica: { type: 'boolean', help: 'read from a replica of the key (may lag; stderr says how far)' },
      'show-version': {
        type: 'boolean',
        help: 'also print the key\'s version E.S (first line; "version" in --json), for --if-match',
      },
    },
    check: getKey,
    run: async (client, args, out, conn) => {
      const key = getKey(args);
      const showVersion = args.options.get('show-version') === true;
      if (args.options.get('replica') === true && args.options.has('w'))
        throw new UsageError("give --replica or --w (which reads the key's leader), not both");
      const { concern, slowMs } = await concernOptions(args, client, key);
      const v = await withSlowNote('get', client.getVersioned(key, concern), false, slowMs, conn.waited);
      if (v?.lag !== undefined) process.stderr.write(`(read from a replica: X-Distkv-Lag ${v.lag})\n`);
      if (v === undefined) {
        if (out.json) out.line(JSON.stringify({ ...keyJson(key), found: false }));
        else process.stderr.write(`distkv get: key ${displayKey(key)} not found\n`);
        return 1;
      }
      if (out.json)
        out.line(
          JSON.stringify({
            ...keyJson(key),
            ...jsonValue(v.value),
            ...(showVersion ? { version: v.version } : {}),
          }),
        );
      else {
        if (showVersion) out.line(v.version);
        out.value(v.value);
      }
      return 0;
    },
  },
  set: {
    usage: 'distkv set KEY VALUE | distkv set KEY --file FILE | distkv set KEY - (value from stdin)',
    summary: VERB_SUMMARIES.set,
    details:
      "VALUE as an argument is at most 128 KiB on Linux (the system's bound on one argument): give a\nlarger one with --file FILE or - (stdin), which read at most 64 MiB, the largest value any node\ntakes (the nodes' server.max_value_bytes, default 1 MiB, is the limit that counts).\nA key that is not UTF-8 is given with --key-base64 B64 in place of KEY. A write whose answer was\nlost (the connection failed after it was sent) is not sent again: exit 1, OUTCOME_UNKNOWN saying\nit may have been applied (get the key to see).",
    options: {
      ...KEY_BASE64,
      file: {
        type: 'string',
        valueName: 'FILE',
        nonEmpty: true,
        help: 'read the value from a file ("-" for stdin)',
      },
      ...WRITE_CONCERN,
      ttl: { type: 'string', valueName: 'MS', help: 'expire the key MS milliseconds after the write' },
      'expires-at': {
        type: 'string',
        valueName: 'MS',
        help: 'expire the key at Unix time MS in milliseconds (one already past deletes it)',
      },
      'if-match': {
        type: 'string',
        valueName: 'E.S',
        help: 'write only if the key\'s version is E.S (from get --show-version), or exists with "*"',
      },
      'if-none-match': { type: 'boolean', help: 'write only if the key does not exist (create only)' },
    },
    check: setKeyAndText,
    run: async (client, args, out, conn) => {
      const file = stringOption(args, 'file');
      const [key, text] = setKeyAndText(args);
      const value =
        file !== undefined ? readInput(file) : text === '-' ? readInput('-') : Buffer.from(text ?? '');
      const ttlMs = intOption(args, 'ttl', { min: 1, max: MAX_TTL_MS, what: ' ms (ten years)' });
      const latest = Date.now() + MAX_TTL_MS;
      const expiresAtMs = intOption(args, 'expires-at', {
        min: 1,
        max: latest,
        what: ' (Unix ms, ten years ahead)',
      });
      if (ttlMs !== undefined && expiresAtMs !== undefined)
        throw new UsageError('give --ttl (ms from now) or --expires-at (Unix ms), not both');
      const ifMatch = ifMatchOption(args);
      if (ifMatch !== undefined && args.options.get('if-none-match') === true)
        throw new UsageError('give --if-match or --if-none-match, not both');
      // Last: it reads the cluster's map, after every check that needs no node.
      const { concern, slowMs } = await concernOptions(args, client, key);
      const put = client.putResult(key, value, {
        ...concern,
        ...(ttlMs === undefined ? {} : { ttlMs }),
        ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
        ...(ifMatch === undefined ? {} : { ifMatch }),
        ...(args.options.get('if-none-match') === true ? { ifNoneMatch: true } : {}),
      });
      // The node that applied the put says whether its expiry was past by that node's clock, so it
      // wrote a delete (X-Distkv-Deleted): this machine's clock may differ from the node's.
      const { version, deleted } = await withSlowNote('set', put, true, slowMs, conn.waited);
      // A version is E.S: its seq is the write's seq.
      const seq = Number(version.slice(version.indexOf('.') + 1));
      const expiry = expiresAtMs !== undefined ? `--expires-at ${expiresAtMs}` : `--ttl ${String(ttlMs)}`;
      out.line(
        out.json
          ? JSON.stringify({ ...keyJson(key), seq, version, ...(deleted ? { deleted: true } : {}) })
          : deleted
            ? `OK: the expiry (${expiry}) is past, so key ${displayKey(key)} was deleted (seq ${seq}, version ${version})`
            : `OK (seq ${seq}, version ${version})`,
      );
      return 0;
    },
  },
  del: {
    usage: 'distkv del KEY | distkv del --key-base64 B64',
    summary: VERB_SUMMARIES.del,
    details:
      'A delete whose answer was lost (the connection failed after it was sent) is not sent again:\nexit 1, OUTCOME_UNKNOWN saying it may have been applied (get the key to see).',
    options: {
      ...KEY_BASE64,
      ...WRITE_CONCERN,
      'if-match': {
        type: 'string',
        valueName: 'E.S',
        help: "delete only if the key's version is E.S (from get --show-version)",
      },
    },
    check: delKey,
    run: async (client, args, out, conn) => {
      const key = delKey(args);
      const ifMatch = ifMatchOption(args);
      const { concern, slowMs } = await concernOptions(args, client, key);
      const existed = await withSlowNote(
        'del',
        client.delete(key, { ...concern, ...(ifMatch === undefined ? {} : { ifMatch }) }),
        true,
        slowMs,
        conn.waited,
      );
      out.line(
        out.json
          ? JSON.stringify({ ...keyJson(key), existed })
          : existed
            ? 'OK (deleted)'
            : 'OK (did not exist)',
      );
      return 0;
    },
  },
  scan: {
    usage: 'distkv scan [PREFIX] | distkv scan --prefix-base64 B64',
    summary: VERB_SUMMARIES.scan,
    details:
      'Prints KEY<TAB>VALUE lines (keys and values that are not printable text are quoted and escaped),\nor with --json one {"key","value"} line per key ("value_base64" when the value is not UTF-8, and\n"key_base64" with the exact bytes of a key that is not UTF-8, for get/set/del --key-base64).\nReads the shards\' leaders; with --replica a node may serve the shards it replicates from its\nreplica, and stderr then names each such shard and its lag (as X-Distkv-Lag). Without --all it\nprints one page (--limit keys) and, when there are more, says so on stderr with the option that\ngoes on ("(more: --after KEY, or --all)", with --json too): export every key with --all.',
    options: {
      limit: {
        type: 'string',
        valueName: 'N',
        help: `keys per page, 1..${SCAN_MAX_LIMIT} (default ${SCAN_DEFAULT_LIMIT})`,
      },
      'prefix-base64': PREFIX_BASE64_OPTION,
      after: { type: 'string', valueName: 'KEY', help: 'start after this key' },
      'after-base64': {
        type: 'string',
        valueName: 'B64',
        help: 'start after this key given as base64 (a key that is not UTF-8 or holds a control character, as the "more:" hint gives it)',
      },
      all: { type: 'boolean', help: 'follow the next cursor to the end' },
      replica: { type: 'boolean', help: 'let nodes read the shards they replicate (may lag; says so)' },
    },
    check: (args) => prefixArgument(args, 'scan'),
    run: async (client, args, out) => {
      const prefix = prefixArgument(args, 'scan');
      const after = afterOption(args);
      // One message for every refusal ("-1", "0", "abc", "10001"): it names what is accepted.
      const limit =
        intOption(args, 'limit', { min: 1, max: SCAN_MAX_LIMIT, what: ' (keys per page)' }) ??
        SCAN_DEFAULT_LIMIT;
      const all = args.options.get('all') === true;
      // Each shard a replica served, with its lag as the last page that read it gave it.
      const lags = new Map<number, string>();
      let cursor: string | Uint8Array | undefined = after;
      // What was printed, and the key it ended at: a scan stopped part-way (a node gone, Ctrl-C)
      // says its output is partial and where to go on, on stderr (it used to end with the error
      // alone, or with nothing at all on Ctrl-C, and `scan --all > dump` looked complete).
      let printed = 0;
      let last: { key: string; keyBytes?: Buffer } | undefined;
      const partial = (why: string): string =>
        `(${why} after ${plural(printed, 'key')}: the output is partial${last === undefined ? '' : `; go on with ${afterHint(last.key, last.keyBytes)}`})`;
      const scanPages = async (): Promise<ScanPage> => {
        let page: ScanPage;
        do {
          try {
            page = await client.scanPage(prefix, {
              limit,
              ...(cursor === undefined ? {} : { after: cursor }),
            });
          } catch (err) {
            if (printed > 0) process.stderr.write(`${partial('stopped')}\n`);
            throw err;
          }
          for (const i of page.items) out.item(i.key, i.value, i.keyBytes);
          printed += page.items.length;
          last = page.items.at(-1) ?? last;
          await out.drained();
          for (const [shard, lag] of Object.entries(page.replicaLag ?? {})) lags.set(Number(shard), lag);
          cursor = page.nextBytes ?? page.next ?? undefined;
        } while (all && page.next !== null);
        return page;
      };
      const page = await whileInterruptible(
        scanPages,
        () => undefined,
        () => `distkv scan: interrupted ${partial('stopped')}`,
      );
      for (const [shard, lag] of [...lags].sort(([a], [b]) => a - b))
        process.stderr.write(`(shard ${shard} was read from a replica: X-Distkv-Lag ${lag})\n`);
      // A cursor that is not UTF-8 has no text that stands for it (`next` shows U+FFFD for its bytes).
      // Said with --json too (on stderr, outside the JSON lines): `scan --json > dump.jsonl`, the
      // input `distkv load` reads, stopped after one page without a word, exit 0.
      if (!all && page.next !== null)
        process.stderr.write(`(more: ${afterHint(page.next, page.nextBytes)}, or --all)\n`);
      return 0;
    },
  },
};
