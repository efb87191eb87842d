/**
 * `distkv load FILE`: bulk-load JSON lines into the empty stores of this machine's nodes, with the
 * server stopped (docs/bulk-load.md). Each line is `{"key": K, "value": V}` (what
 * `distkv scan --json` prints) or `{"key": K, "value_base64": B}` for binary values (and
 * `"key_base64"`, the exact bytes of a key that is not UTF-8, as the scan gives it). Keys are
 * routed by slot as the server routes them; every local store of the key's shard (its leader and
 * the replicas hosted here) gets it. Lines are read in chunks of CHUNK_LINES, each written into
 * LMDB (bulk-load.ts); the command exits 0 only once every store has synced its load. It holds
 * the data directory's LOCK (src/server/data-dir-lock.ts) throughout, so a `distkv serve` on the
 * same directory cannot start mid-load, and a running one makes the load fail before it touches a
 * store. Like serve, it checks and writes the directory's FORMAT marker (src/server/data-format.ts):
 * without it, serve would take the loaded stores for ones placed by an older slot function. FILE is
 * opened and its first line read first (load-input.ts): a missing FILE, a directory, a backup file
 * are usage mistakes that leave the stores alone.
 */
import { join } from 'node:path';
import { type ConfigOverrides, loadConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import { ShardMap } from '../routing/shard-map.js';
import { slotOfBytes } from '../routing/slot.js';
import { DataDirLock } from '../server/data-dir-lock.js';
import { checkDataFormat } from '../server/data-format.js';
import { type NodePlan, planNode, selectNodes } from '../server/node-plan.js';
import { lastRunOf } from '../server/run-marker.js';
import { type BulkEntry, BulkLoader } from '../storage/bulk-load.js';
import { LOADING_MARKER } from '../storage/bulk-load-marker.js';
import { newHistoryId } from '../storage/history-format.js';
import { RealVfs } from '../storage/real-vfs.js';
import { parseRunName } from '../storage/sstable-format.js';
import { reasonOf } from '../util/fs-reason.js';
import { plural } from '../util/plural.js';
import {
  formatOptions,
  listOption,
  type OptionSpec,
  parseArgs,
  stringOption,
  UsageError,
  usageOnRefusal,
} from './args.js';
import { whileInterruptible } from './interrupt.js';
import { InputReadError, LoadInput, maxLineBytes } from './load-input.js';
import { stderrProgress } from './progress-line.js';
import { DEFAULT_CONFIG } from './serve.js';

/** NOT_EMPTY_HINT says what to do instead of loading into stores that hold data. */
const NOT_EMPTY_HINT =
  "To add keys to stores that hold data, start distkv serve and write them through it: distkv set (one key), distkv restore --force (a backup file), the client library's batch or redis-cli; to start over, load into an empty --data-dir";

/** CHUNK_LINES is how many input lines are parsed, routed and written at a time. */
export const CHUNK_LINES = 500_000;

const OPTIONS: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    valueName: 'FILE',
    nonEmpty: true,
    help: 'config file; default config/default.toml',
  },
  node: {
    type: 'list',
    valueName: 'ADDR',
    help: "load only this node's stores (repeatable); default: every node of the config on this machine",
  },
  'data-dir': {
    type: 'string',
    valueName: 'DIR',
    nonEmpty: true,
    help: 'data directory (overrides server.data_dir)',
  },
  help: { type: 'boolean', help: 'show this help' },
};

/** LOAD_HELP is the text of `distkv load --help`. */
export const LOAD_HELP = `Usage: distkv load FILE [options]

Bulk-loads an initial import into empty stores, straight into their bottom level (no WAL records,
flushes or compactions). Run it with the server stopped; FILE has one JSON object per line:
{"key": "k", "value": "v"} or {"key": "k", "value_base64": "..."} ("-" reads standard input).
FILE is UTF-8 text: other bytes go in "key_base64" and "value_base64". A later line for the
same key wins. Replicas on other machines resync from their leader.

Options:
${formatOptions(OPTIONS)}`;

/**
 * LINE_FIELDS are the fields a line may hold: what `distkv scan --json` prints, and the "version"
 * `distkv get --json --show-version` adds (the load gives every key a new one).
 */
const LINE_FIELDS = new Set(['key', 'key_base64', 'value', 'value_base64', 'version']);

/** LONE_SURROGATE matches a UTF-16 surrogate that is not half of a pair. */
const LONE_SURROGATE = /\p{Cs}/u;

/** QUIET_LINES: a load of fewer lines finishes its stores too fast to announce it. */
const QUIET_LINES = 100000;

/** parseLine decodes one input line into a key and value, or throws naming the line. */
export function parseLine(line: string, lineNo: number, maxKey: number, maxValue: number): BulkEntry {
  const bad = (why: string): never => {
    throw new DistkvError('INVALID_BODY', `line ${lineNo}: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (err) {
    return bad(`not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return bad('expected an object {"key", "value"}');
  // A field the load does not read is refused, as the batch API refuses it: `"ttl_ms"` would load
  // a key that never expires, and a line with both values would load one of them without a word.
  const unknown = Object.keys(doc).find((f) => !LINE_FIELDS.has(f));
  if (unknown !== undefined)
    return bad(
      `unknown field ${JSON.stringify(unknown)}: a line holds "key" (and "key_base64") and "value" or "value_base64"${unknown.startsWith('ttl') || unknown.startsWith('expire') ? '; a load takes no TTL (write such keys with PUT ?ttl_ms= or a batch)' : ''}`,
    );
  const { key, key_base64: keyB64, value, value_base64: b64 } = doc as Record<string, unknown>;
  if (value !== undefined && b64 !== undefined) return bad('give "value" or "value_base64", not both');
  if (keyB64 !== undefined && typeof keyB64 !== 'string') return bad('"key_base64" must be a string');
  if (key !== undefined && typeof key !== 'string') return bad('"key" must be a string');
  if (key === undefined && keyB64 === undefined)
    return bad('expected "key" (a non-empty string) or "key_base64"');
  if (key === '') return bad('"key" must be a non-empty string');
  // Text and base64 are taken only when they say exactly which bytes: Buffer.from would put
  // U+FFFD for a lone surrogate ("\ud800" in JSON) and skip what is not base64, loading other
  // bytes than the line's without a word.
  const text = (field: string, s: string): Buffer =>
    LONE_SURROGATE.test(s)
      ? bad(`"${field}" has a lone UTF-16 surrogate, which no UTF-8 encodes (give "${field}_base64")`)
      : Buffer.from(s, 'utf8');
  const base64 = (field: string, s: string): Buffer => {
    const bytes = Buffer.from(s, 'base64');
    return bytes.toString('base64') === s ? bytes : bad(`"${field}" is not canonical base64`);
  };
  // key_base64 (scan --json gives it for a key that is not UTF-8) holds the key's exact bytes; a
  // "key" beside it is its text, U+FFFD in place of what is not UTF-8, as scan prints it. Another
  // text names another key: which one the line meant is a guess (key_base64 won without a word).
  const k = typeof keyB64 === 'string' ? base64('key_base64', keyB64) : text('key', key as string);
  if (k.length === 0) bad('"key_base64" must not be empty');
  if (typeof keyB64 === 'string' && typeof key === 'string' && k.toString('utf8') !== key)
    bad(
      `"key" and "key_base64" name different keys ("key_base64" is the bytes of ${JSON.stringify(k.toString('utf8'))}): give one of them, or both as distkv scan --json prints them`,
    );
  if (k.length > maxKey) bad(`key is ${k.length} bytes; limit is ${maxKey}`);
  let v: Buffer;
  if (typeof value === 'string') v = text('value', value);
  else if (typeof b64 === 'string') v = base64('value_base64', b64);
  else return bad('expected "value" (a string) or "value_base64"');
  if (v.length > maxValue) bad(`value is ${v.length} bytes; limit is ${maxValue}`);
  return { key: k, value: v };
}

/** load runs `distkv load`. */
export async function load(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${LOAD_HELP}\n`);
    return 0;
  }
  const [file, extra] = args.positionals;
  if (file === undefined) throw new UsageError('missing FILE');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}": one FILE per load`);
  const overrides: ConfigOverrides = {};
  const dataDir = stringOption(args, 'data-dir');
  if (dataDir !== undefined) overrides['server.data_dir'] = dataDir;
  const config = loadConfig(stringOption(args, 'config') ?? DEFAULT_CONFIG, overrides);
  if (config.storage.engine !== 'lsm')
    throw new UsageError(`bulk load writes LSM stores; storage.engine is "${config.storage.engine}"`);
  const nodes = selectNodes(config, listOption(args, 'node'));
  const input = await LoadInput.open(
    file,
    maxLineBytes(config.server.max_key_bytes, config.server.max_value_bytes),
  );
  let lock: DataDirLock | undefined;
  try {
    lock = DataDirLock.acquire(config.server.data_dir);
    // Ctrl-C leaves the stores half-loaded: their LOADING markers stay, so `distkv serve` refuses
    // them (serve.ts) until a load is run again (it starts them over: bulk-load.ts).
    // A line that is no key and value is a mistake in FILE (INVALID_BODY, MISSING_KEY...): exit 2.
    return await whileInterruptible(
      () => usageOnRefusal(() => loadStores(config, nodes, input)),
      () => lock?.release(),
      `distkv load: interrupted: the load did not finish; its stores keep their ${LOADING_MARKER} file and serve refuses them until a load is run again (with the same input or another: it starts them over)`,
    );
  } finally {
    lock?.release();
    await input.close();
  }
}

/**
 * refuseAfterLossyRun throws BULK_LOAD_REFUSED when the last `distkv serve` on `dataDir` stopped
 * uncleanly in durability "interval" or "none" (its RUNNING marker, src/server/run-marker.ts). Its
 * stores showed records to replicas before syncing them, so a store that looks empty now may have
 * lost records a replica elsewhere holds. The restart after such a run starts a new epoch at the
 * store's next seq, which tells those replicas they forked; a load first would give the load's
 * seqs 1..S to the old epoch, and a replica holding exactly S lost records would then follow the
 * loaded store without resyncing, keeping the lost records for the loaded keys. One start and a
 * clean stop run that recovery (and remove the marker); the load then goes ahead.
 */
function refuseAfterLossyRun(dataDir: string): void {
  const last = lastRunOf(dataDir);
  if (last === undefined || last.durability === 'fsync') return;
  throw new DistkvError(
    'BULK_LOAD_REFUSED',
    `bulk load into ${dataDir} refused: the last distkv serve on it (pid ${last.pid}, durability "${last.durability}") did not stop cleanly, so replicas elsewhere may hold records its stores lost; start distkv serve on it once and stop it cleanly (its restart starts new epochs), then load`,
  );
}

/**
 * loadHistories maps each store of `stores` (by directory) to the history id its load names
 * (docs/bulk-load.md): a shard whose leader store (by the config: a load writes empty stores, so
 * no failover moved it) is loaded begins a history, and its replica stores loaded with it hold the
 * same records, so the same id. Without one, a loaded leader held records and no id, which serve
 * never names (only a leader holding nothing begins a history), and its replicas went unchecked: a
 * later loss of its directory was not seen. A replica loaded without its leader gets none: it
 * takes its leader's at its first pull.
 */
function loadHistories(stores: NodePlan['stores']): Map<string, string> {
  const ids = new Map<number, string>();
  for (const st of stores) if (st.role === 'leader') ids.set(st.shard.idx, newHistoryId());
  const histories = new Map<string, string>();
  for (const st of stores) {
    const id = ids.get(st.shard.idx);
    if (id !== undefined) histories.set(st.dir, id);
  }
  return histories;
}

/** loadStores loads `input` into the stores of `nodes`. */
async function loadStores(config: Config, nodes: string[], input: LoadInput): Promise<number> {
  const plan = planNode(config, nodes, 1);
  refuseAfterLossyRun(config.server.data_dir);
  // As serve does on first start: the stores are filled by CRC16 slots, so the directory says so.
  checkDataFormat(
    config.server.data_dir,
    plan.stores.map((st) => st.dir),
  );
  const map = new ShardMap(config.shards);
  const vfs = new RealVfs();
  const byShard = new Map<number, BulkLoader[]>();
  const loaders: BulkLoader[] = [];
  // The stores this load found empty, without an earlier load's LOADING marker: a mistake in the
  // input found before any store is finished leaves them as they were (inputMistake).
  const fresh: string[] = [];
  let finishing = false;
  let opened = false;
  try {
    for (const st of plan.stores) {
      const empty = !vfs.exists(join(st.dir, LOADING_MARKER));
      const l = await BulkLoader.open(st.dir, vfs);
      loaders.push(l);
      if (empty) fresh.push(st.dir);
      byShard.set(st.shard.idx, [...(byShard.get(st.shard.idx) ?? []), l]);
    }
    opened = true;
    const histories = loadHistories(plan.stores);
    const t0 = performance.now();
    let chunk = new Map<number, BulkEntry[]>();
    let inChunk = 0;
    let total = 0;
    const progress = stderrProgress(true);
    const storesText = plural(loaders.length, 'store');
    const flush = async (): Promise<void> => {
      for (const [shard, entries] of chunk) for (const l of byShard.get(shard) ?? []) await l.add(entries);
      chunk = new Map();
      inChunk = 0;
      progress.show(() => `load: ${plural(total, 'line')} into ${storesText}`);
    };
    for (let line = await input.next(); line !== undefined; line = await input.next()) {
      const e = parseLine(line, input.lineNo, config.server.max_key_bytes, config.server.max_value_bytes);
      const shard = map.shardOfSlot(slotOfBytes(e.key));
      let list = chunk.get(shard);
      if (list === undefined) chunk.set(shard, (list = []));
      list.push(e);
      total++;
      if (++inChunk >= CHUNK_LINES) await flush();
    }
    await flush();
    progress.show(
      () =>
        `load: ${plural(total, 'line')} read; finishing the stores (sorting and writing their bottom level)`,
      total >= QUIET_LINES,
    );
    finishing = true;
    for (const l of loaders) await l.finish(histories.get(l.dir));
    progress.clear();
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(
      `loaded ${plural(total, 'line')} into ${storesText} in ${s.toFixed(1)} s (${Math.round(total / s)} lines/s); durable\n`,
    );
    return 0;
  } catch (err) {
    await Promise.all(loaders.map((l) => l.abort().catch(() => undefined)));
    // A read of the input that failed (an I/O error, mid-way) stopped the load before any store
    // was finished, as a bad line does: the stores it found empty are made so again.
    if (err instanceof InputReadError)
      throw new InputReadError(
        `${err.message}; ${undoLoad(vfs, fresh, loaders.length, `run the load again once ${input.name} reads in full`)}`,
        err,
      );
    if (finishing || !(err instanceof DistkvError)) throw unfinished(err, loaders.length);
    const state = undoLoad(vfs, fresh, loaders.length, 'fix the input and run the load again');
    if (opened) throw new DistkvError(err.code, `${err.message}; ${state}`, { cause: err });
    // A store that holds data: say how to add keys to it instead (the refusal named HTTP only).
    throw new DistkvError(err.code, `${err.message}; ${state}. ${NOT_EMPTY_HINT}`, { cause: err });
  }
}

/**
 * undoLoad handles a load stopped before any store was finished (by its input: a line that is no
 * key and value, a value over the limit, a read that failed; or by a store refused): its runs are
 * all the load wrote, so removing them and the LOADING marker leaves each store it found empty as
 * it was, and `distkv serve` starts on it. (Left marked, serve refused the stores "until the same
 * load is run again", and the same input stopped at the same line again.) A store that held an
 * earlier unfinished load keeps its marker (the next load starts it over). It returns what became
 * of the stores, ending with `remedy` when a store keeps its marker.
 */
function undoLoad(vfs: RealVfs, fresh: readonly string[], stores: number, remedy: string): string {
  try {
    for (const dir of fresh) {
      const runs = join(dir, 'runs');
      for (const n of vfs.list(runs))
        if (parseRunName(n) !== undefined || n.endsWith('.tmp')) vfs.unlink(join(runs, n));
      vfs.syncDir(runs);
      vfs.unlink(join(dir, LOADING_MARKER));
      vfs.syncDir(dir);
    }
  } catch (err) {
    // The marker goes last: a store it could not empty keeps it, and the next load starts it over.
    return `nothing was loaded, but removing what the load wrote failed (${reasonOf(err)}): stores keep their ${LOADING_MARKER} file (serve refuses them): ${remedy} (it starts them over)`;
  }
  const kept = stores - fresh.length;
  return kept === 0
    ? 'nothing was loaded: the stores are as they were'
    : `nothing was loaded; ${kept} store${kept > 1 ? 's' : ''} keep${kept > 1 ? '' : 's'} the ${LOADING_MARKER} file of an earlier load that did not finish (serve refuses ${kept > 1 ? 'them' : 'it'}): ${remedy}`;
}

/**
 * unfinished adds what to do to an error that stopped the load while it wrote or finished its
 * stores (a full disk, an I/O error): the stores it opened keep their LOADING marker, which serve
 * refuses, and a load run again (with the same input or another) starts them over.
 */
function unfinished(err: unknown, stores: number): unknown {
  if (stores === 0 || !(err instanceof Error)) return err;
  const message = `${err.message}; the load did not finish: its stores keep their ${LOADING_MARKER} file (serve refuses them): run the load again, which starts them over`;
  return err instanceof DistkvError
    ? new DistkvError(err.code, message, { cause: err })
    : Object.assign(new Error(message, { cause: err }), { code: (err as { code?: unknown }).code });
}
