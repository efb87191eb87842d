/**
 * did-you-mean: the name a mistyped one most likely meant, for the CLI's "unknown command" and
 * "unknown option" lines (`distkv gte` → get, `--tll` → --ttl) and a config file's unknown
 * settings (`tokn` → token), as git and cargo suggest. A word is matched case-insensitively within two edits (an insertion, deletion,
 * substitution or swap of two neighbours), never closer than half its length, so a short unrelated
 * word suggests nothing; the verbs other stores use for the same thing (`put`, `delete`, `keys`)
 * name distkv's.
 */

/** COMMAND_ALIASES are the words Redis, etcd and other stores' CLIs use for distkv's commands. */
export const COMMAND_ALIASES: Readonly<Record<string, string>> = {
  put: 'set',
  delete: 'del',
  rm: 'del',
  remove: 'del',
  unset: 'del',
  keys: 'scan',
  list: 'scan',
  ls: 'scan',
  nodes: 'cluster',
  status: 'cluster',
  info: 'stats',
  start: 'serve',
  server: 'serve',
};

/** editDistance is the optimal-string-alignment distance of a and b (adjacent swaps count as one). */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: distance of a's first i characters to b's first j
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  return rows[a.length]![b.length]!;
}

/**
 * didYouMean returns the candidate `word` most likely meant (the nearest; the first of equals), or
 * undefined when none is near enough. `aliases` maps other tools' words to candidates.
 */
export function didYouMean(
  word: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const w = word.toLowerCase();
  const alias = Object.hasOwn(aliases, w) ? aliases[w] : undefined;
  if (alias !== undefined && candidates.includes(alias)) return alias;
  const bound = Math.min(2, Math.floor(w.length / 2));
  let best: string | undefined;
  let bestDistance = bound + 1;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** suggestion is " (did you mean X?)" for didYouMean's answer, shown as `show` writes it; "" for none. */
export function suggestion(
  word: string,
  candidates: readonly string[],
  show: (candidate: string) => string = (c) => c,
  aliases: Readonly<Record<string, string>> = {},
): string {
  const best = didYouMean(word, candidates, aliases);
  return best === undefined ? '' : ` (did you mean ${show(best)}?)`;
}
