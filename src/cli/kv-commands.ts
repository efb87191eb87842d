/**
 * The client verbs of `distkv`: get, set, del, scan, cluster, stats. Each talks to a cluster
 * through the client library (routing keys to their owners itself), prints readable output or
 * `--json`, and exits non-zero on errors (1 runtime or not found, 2 usage).
 */
import { readFileSync } from 'node:fs';
import { DistkvClient } from '../client/client.js';
import {
  UsageError,
  formatOptions,
  intOption,
  listOption,
  type OptionSpec,
  type ParsedArgs,
  parseArgs,
  stringOption,
} from './args.js';

const COMMON: Record<string, OptionSpec> = {
  url: {
    type: 'list',
    valueName: 'URL',
    help: 'a node of the cluster (repeatable; default http://127.0.0.1:8080)',
  },
  token: { type: 'string', valueName: 'TOKEN', help: 'bearer token (or env DISTKV_TOKEN)' },
  json: { type: 'boolean', help: 'print JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

interface Verb {
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  run: (client: DistkvClient, args: ParsedArgs, json: boolean) => Promise<number>;
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

function needPositionals(args: ParsedArgs, n: number, usage: string): string[] {
  if (args.positionals.length !== n)
    throw new UsageError(`expected ${n} argument${n === 1 ? '' : 's'}: ${usage}`);
  return args.positionals;
}

interface ReplicaRow {
  address: string;
  local: boolean;
  lag_seqs?: number;
  lag_ms?: number;
  state?: string;
}

interface ClusterDoc {
  version: string;
  map_version?: number;
  hosted_nodes: string[];
  shards: {
    idx: number;
    name: string;
    epoch?: number;
    slots: [number, number];
    leader: { address: string; local: boolean; last_seq?: number };
    replicas: ReplicaRow[];
  }[];
}

/** VERBS are the client commands, by name. */
export const KV_VERBS: Record<string, Verb> = {
  get: {
    usage: 'distkv get KEY',
    summary: 'print the value of a key (exit 1 when it does not exist)',
    options: { replica: { type: 'boolean', help: 'read from a replica of the key (may lag)' } },
    run: async (client, args, json) => {
      const [key] = needPositionals(args, 1, 'distkv get KEY') as [string];
      const v = await client.get(key);
      if (v === undefined) {
        if (json) out(JSON.stringify({ key, found: false }));
        else process.stderr.write(`distkv get: key "${key}" not found\n`);
        return 1;
      }
      if (json) out(JSON.stringify({ key, value: v.toString('utf8') }));
      else process.stdout.write(v);
      return 0;
    },
  },
  set: {
    usage: 'distkv set KEY VALUE | distkv set KEY --file F | distkv set KEY - (value from stdin)',
    summary: 'store a value',
    options: {
      file: { type: 'string', valueName: 'FILE', help: 'read the value from a file' },
      w: { type: 'string', valueName: 'N', help: 'wait until N replicas hold the write' },
      'timeout-ms': { type: 'string', valueName: 'MS', help: 'how long to wait for --w (default 5000)' },
    },
    run: async (client, args, json) => {
      const file = stringOption(args, 'file');
      const [key, text] =
        file === undefined
          ? (needPositionals(args, 2, 'distkv set KEY VALUE') as [string, string])
          : [needPositionals(args, 1, 'distkv set KEY --file F')[0]!, undefined];
      const value =
        file !== undefined ? readFileSync(file) : text === '-' ? readFileSync(0) : Buffer.from(text ?? '');
      const w = intOption(args, 'w');
      const timeoutMs = intOption(args, 'timeout-ms');
      const seq = await client.put(key, value, {
        ...(w === undefined ? {} : { w }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
      out(json ? JSON.stringify({ key, seq }) : `OK (seq ${seq})`);
      return 0;
    },
  },
  del: {
    usage: 'distkv del KEY',
    summary: 'delete a key',
    options: {},
    run: async (client, args, json) => {
      const [key] = needPositionals(args, 1, 'distkv del KEY') as [string];
      await client.delete(key);
      out(json ? JSON.stringify({ key, deleted: true }) : 'OK');
      return 0;
    },
  },
  scan: {
    usage: 'distkv scan [PREFIX]',
    summary: 'list keys and values with a prefix, in key order',
    options: {
      limit: { type: 'string', valueName: 'N', help: 'keys per page (default 100)' },
      after: { type: 'string', valueName: 'KEY', help: 'start after this key' },
      all: { type: 'boolean', help: 'follow the next cursor to the end' },
    },
    run: async (client, args, json) => {
      const prefix = args.positionals[0] ?? '';
      let after = stringOption(args, 'after');
      const limit = intOption(args, 'limit') ?? 100;
      for (;;) {
        const page = await client.scan(prefix, { limit, ...(after === undefined ? {} : { after }) });
        for (const i of page.items) out(json ? JSON.stringify(i) : `${i.key}\t${i.value}`);
        if (page.next === null || args.options.get('all') !== true) {
          if (!json && page.next !== null) process.stderr.write(`(more: --after ${page.next})\n`);
          return 0;
        }
        after = page.next;
      }
    },
  },
  cluster: {
    usage: 'distkv cluster',
    summary: 'print the shards, their slot ranges, owners, replicas and lag (asking every node)',
    options: {},
    run: async (client, _args, json) => {
      const doc = (await client.cluster()) as ClusterDoc;
      // Each node knows the positions of the stores it hosts: ask every other node too.
      const here = new Set(doc.hosted_nodes);
      const others = [
        ...new Set(doc.shards.flatMap((s) => [s.leader.address, ...s.replicas.map((r) => r.address)])),
      ].filter((a) => !here.has(a));
      const docs = [doc];
      const down = new Set<string>();
      await Promise.all(
        others.map(async (node) => {
          try {
            docs.push((await client.cluster(node)) as ClusterDoc);
          } catch {
            down.add(node);
          }
        }),
      );
      const leaderOf = (idx: number): ClusterDoc['shards'][number]['leader'] | undefined =>
        docs.map((d) => d.shards[idx]?.leader).find((l) => l?.local === true);
      const replicaOf = (idx: number, address: string): ReplicaRow | undefined =>
        docs.flatMap((d) => d.shards[idx]?.replicas ?? []).find((r) => r.address === address && r.local);
      const merged = doc.shards.map((s) => ({
        ...s,
        leader: { ...s.leader, ...leaderOf(s.idx), down: down.has(s.leader.address) },
        replicas: s.replicas.map((r) => ({
          ...r,
          ...replicaOf(s.idx, r.address),
          down: down.has(r.address),
        })),
      }));
      if (json) {
        out(JSON.stringify({ ...doc, shards: merged, down: [...down] }, null, 2));
        return down.size > 0 ? 1 : 0;
      }
      const rows = [['SHARD', 'SLOTS', 'EPOCH', 'LEADER', 'LAST SEQ', 'REPLICAS (state, lag)']];
      for (const s of merged) {
        const replicas = s.replicas
          .map((r) =>
            r.down
              ? `${r.address} (DOWN)`
              : `${r.address} (${r.state ?? 'unknown'}, ${r.lag_seqs ?? 0} seqs, ${r.lag_ms ?? 0} ms)`,
          )
          .join('; ');
        rows.push([
          `${s.idx} ${s.name}`,
          `${s.slots[0]}-${s.slots[1]}`,
          String(s.epoch ?? 0),
          s.leader.down ? `NO LEADER (${s.leader.address} DOWN)` : s.leader.address,
          String(s.leader.last_seq ?? '-'),
          replicas || '-',
        ]);
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows)
        out(
          r
            .map((cell, c) => cell.padEnd(widths[c]!))
            .join('  ')
            .trimEnd(),
        );
      out(
        `config version ${doc.version}, live map version ${doc.map_version ?? 1}${down.size > 0 ? `; ${down.size} node(s) down: ${[...down].join(', ')}` : ''}`,
      );
      return down.size > 0 ? 1 : 0;
    },
  },
  stats: {
    usage: 'distkv stats',
    summary: "print a node's per-store counters",
    options: {},
    run: async (client, _args, json) => {
      const doc = (await client.nodeStats()) as {
        node: Record<string, unknown>;
        stores: Record<string, unknown>[];
      };
      if (json) {
        out(JSON.stringify(doc, null, 2));
        return 0;
      }
      out(
        `node: ${Object.entries(doc.node)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(' ')}`,
      );
      for (const s of doc.stores) {
        const pick = [
          'engine',
          'keys',
          'lastSeq',
          'walSegments',
          'memtableBytes',
          'runs',
          'compactions',
          'replicaState',
          'lagSeqs',
        ];
        out(
          `${String(s.name)} ${String(s.role)} @${String(s.node)}: ${pick
            .filter((k) => s[k] !== undefined)
            .map((k) => `${k}=${String(s[k])}`)
            .join(' ')}`,
        );
      }
      return 0;
    },
  },
};

/** runKvVerb parses the options of a client verb and runs it. */
export async function runKvVerb(name: string, argv: readonly string[]): Promise<number> {
  const verb = KV_VERBS[name]!;
  const specs = { ...COMMON, ...verb.options };
  const args = parseArgs(argv, specs);
  if (args.options.get('help') === true) {
    out(`Usage: ${verb.usage}\n\n${verb.summary}.\n\nOptions:\n${formatOptions(specs)}`);
    return 0;
  }
  const urls = listOption(args, 'url');
  const client = new DistkvClient({
    urls: urls.length > 0 ? urls : ['http://127.0.0.1:8080'],
    token: stringOption(args, 'token') ?? process.env.DISTKV_TOKEN ?? '',
    replicaReads: args.options.get('replica') === true,
  });
  try {
    return await verb.run(client, args, args.options.get('json') === true);
  } finally {
    await client.close();
  }
}
