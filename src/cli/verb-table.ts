/**
 * The verbs of `distkv` and their one-line summaries, in the order `distkv --help` lists them.
 * This module imports nothing: `distkv --help`, `--version` and a mistyped command ("did you
 * mean") read it without loading any verb, and main.ts loads a verb's module only when it runs.
 * A client verb's module takes its summary from here (its --help opens with it).
 */

/** VERB_SUMMARIES is each verb's line in `distkv --help`, in that order. */
export const VERB_SUMMARIES = {
  serve: 'run distkv nodes from a config file',
  get: 'print the value of a key (exit 1 when it does not exist)',
  set: 'store a value',
  del: 'delete a key (exit 0 whether or not it existed; says which)',
  scan: 'list keys and values with a prefix, in key order',
  watch: 'print the changes of the keys under a prefix as they happen, until Ctrl-C',
  cluster: 'print the shards, their slot ranges, owners, replicas and lag (asking every node)',
  stats: "print a node's per-store counters",
  backup: "copy every shard's keys and values from its leader into FILE",
  restore: 'write every key of a backup FILE into a cluster (empty unless --force)',
  failover: "move a shard's leadership to a replica (planned, or --force without the leader)",
  diverged: 'print the records of divergence files (writes a fork cut off)',
  map: "write a running peer's live map into this node's data directory (node stopped)",
  load: 'bulk-load JSON lines into empty stores (server stopped)',
  bench: 'load generator: throughput and latency percentiles of a node, a cluster or redis',
} as const;

/** VerbName is the name of a verb of `distkv`. */
export type VerbName = keyof typeof VERB_SUMMARIES;

/** isVerbName says whether `name` is a verb (only its own names: "constructor" is not one). */
export function isVerbName(name: string): name is VerbName {
  return Object.hasOwn(VERB_SUMMARIES, name);
}
