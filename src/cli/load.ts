/**
 * `distkv load FILE`: bulk-load JSON lines into the empty stores of this machine's nodes, with the
 * server stopped (docs/bulk-load.md). Each line is `{"key": K, "value": V}` (what
 * `distkv scan --json` prints) or `{"key": K, "value_base64": B}` for binary values. Keys are
 * routed by slot as the server routes them; every local store of the key's shard (its leader and
 * the replicas hosted here) gets it. Lines are read in chunks of CHUNK_LINES, each written into
 * LMDB (bulk-load.ts); the command exits 0 only once every store has synced its load.
 */
import { createReadStream } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { type ConfigOverrides, loadConfig } from '../config/load-config.js';
import { DistkvError } from '../errors.js';
import { ShardMap } from '../routing/shard-map.js';
import { slotOfBytes } from '../routing/slot.js';
import { planNode, selectNodes } from '../server/node-plan.js';
import { type BulkEntry, BulkLoader } from '../storage/bulk-load.js';
import { RealVfs } from '../storage/real-vfs.js';
import { formatOptions, listOption, type OptionSpec, parseArgs, stringOption, UsageError } from './args.js';
import { DEFAULT_CONFIG } from './serve.js';

/** CHUNK_LINES is how many input lines are parsed, routed and written at a time. */
export const CHUNK_LINES = 500_000;

const OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', valueName: 'FILE', help: 'config file; default config/default.toml' },
  node: {
    type: 'list',
    valueName: 'ADDR',
    help: "load only this node's stores (repeatable); default: every node of the config on this machine",
  },
  'data-dir': { type: 'string', valueName: 'DIR', help: 'data directory (overrides server.data_dir)' },
  help: { type: 'boolean', help: 'show this help' },
};

/** LOAD_HELP is the text of `distkv load --help`. */
export const LOAD_HELP = `Usage: distkv load FILE [options]

Bulk-loads an initial import into empty stores, straight into their bottom level (no WAL records,
flushes or compactions). Run it with the server stopped; FILE has one JSON object per line:
{"key": "k", "value": "v"} or {"key": "k", "value_base64": "..."} ("-" reads standard input).
A later line for the same key wins. Replicas on other machines resync from their leader.

Options:
${formatOptions(OPTIONS)}`;

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
  if (typeof doc !== 'object' || doc === null) return bad('expected an object {"key", "value"}');
  const { key, value, value_base64: b64 } = doc as Record<string, unknown>;
  if (typeof key !== 'string' || key === '') return bad('"key" must be a non-empty string');
  const k = Buffer.from(key, 'utf8');
  if (k.length > maxKey) bad(`key is ${k.length} bytes; limit is ${maxKey}`);
  let v: Buffer;
  if (typeof value === 'string') v = Buffer.from(value, 'utf8');
  else if (typeof b64 === 'string') v = Buffer.from(b64, 'base64');
  else return bad('expected "value" (a string) or "value_base64"');
  if (v.length > maxValue) bad(`value is ${v.length} bytes; limit is ${maxValue}`);
  return { key: k, value: v };
}

/** listening reports whether something accepts connections at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

/** load runs `distkv load`. */
export async function load(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${LOAD_HELP}\n`);
    return 0;
  }
  const [file] = args.positionals;
  if (file === undefined) throw new UsageError('missing FILE');
  const overrides: ConfigOverrides = {};
  const dataDir = stringOption(args, 'data-dir');
  if (dataDir !== undefined) overrides['server.data_dir'] = dataDir;
  const config = loadConfig(stringOption(args, 'config') ?? DEFAULT_CONFIG, overrides);
  if (config.storage.engine !== 'lsm')
    throw new UsageError(`bulk load writes LSM stores; storage.engine is "${config.storage.engine}"`);
  const nodes = selectNodes(config, listOption(args, 'node'));
  for (const n of nodes) {
    const i = n.lastIndexOf(':');
    if (await listening(n.slice(0, i).replace(/^\[|\]$/g, ''), Number(n.slice(i + 1))))
      throw new DistkvError('BULK_LOAD_REFUSED', `a server is listening on ${n}: stop it before a bulk load`);
  }
  const plan = planNode(config, nodes, 1);
  const map = new ShardMap(config.shards);
  const vfs = new RealVfs();
  const byShard = new Map<number, BulkLoader[]>();
  const loaders: BulkLoader[] = [];
  try {
    for (const st of plan.stores) {
      const l = await BulkLoader.open(st.dir, vfs);
      loaders.push(l);
      byShard.set(st.shard.idx, [...(byShard.get(st.shard.idx) ?? []), l]);
    }
    const t0 = performance.now();
    const input = file === '-' ? process.stdin : createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let chunk = new Map<number, BulkEntry[]>();
    let inChunk = 0;
    let lineNo = 0;
    let total = 0;
    const flush = async (): Promise<void> => {
      for (const [shard, entries] of chunk) for (const l of byShard.get(shard) ?? []) await l.add(entries);
      chunk = new Map();
      inChunk = 0;
    };
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      const e = parseLine(line, lineNo, config.server.max_key_bytes, config.server.max_value_bytes);
      const shard = map.shardOfSlot(slotOfBytes(e.key));
      let list = chunk.get(shard);
      if (list === undefined) chunk.set(shard, (list = []));
      list.push(e);
      total++;
      if (++inChunk >= CHUNK_LINES) await flush();
    }
    await flush();
    for (const l of loaders) await l.finish();
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(
      `loaded ${total} lines into ${loaders.length} stores in ${s.toFixed(1)} s (${Math.round(total / s)} lines/s); durable\n`,
    );
    return 0;
  } catch (err) {
    await Promise.all(loaders.map((l) => l.abort().catch(() => undefined)));
    throw err;
  }
}
