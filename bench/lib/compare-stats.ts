/**
 * The arithmetic of `bench:compare`'s report, kept pure so it can be tested: medians over rounds,
 * ratios of medians and medians of per-round ratios (a ratio is only taken between two figures of
 * the same round, so a round slowed by the shared machine slows both sides alike), rate formatting,
 * and the `--rows` selection.
 */

/** median returns the middle value (the mean of the two middle ones for an even count); NaN if empty. */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** roundRatios divides a[i] by b[i] for every round both measured (undefined or non-finite skipped). */
export function roundRatios(
  a: readonly (number | undefined)[],
  b: readonly (number | undefined)[],
): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y > 0)
      out.push(x / y);
  }
  return out;
}

/** formatRate writes a rate as "27.3k" (one decimal in thousands), or "n/a" when not measured. */
export function formatRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : String(Math.round(x));
}

/** formatRatio writes a ratio with two decimals, or "n/a". */
export function formatRatio(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : 'n/a';
}

/**
 * describeRatio is one ratio line's figures: "0.41 (rounds 0.38 0.41 0.44)": the median of the
 * per-round ratios, then each round's; "n/a" when no round measured both sides.
 */
export function describeRatio(
  a: readonly (number | undefined)[],
  b: readonly (number | undefined)[],
): string {
  const rs = roundRatios(a, b);
  if (rs.length === 0) return 'n/a';
  return `${formatRatio(median(rs))} (rounds ${rs.map(formatRatio).join(' ')})`;
}

/**
 * selectRows resolves a `--rows` value against the known row ids and groups: a comma-separated
 * list of ids or group names, in catalogue order, without duplicates. Throws on an unknown name.
 */
export function selectRows(
  spec: string,
  ids: readonly string[],
  groups: Readonly<Record<string, readonly string[]>>,
): string[] {
  const wanted = new Set<string>();
  for (const raw of spec.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const group = groups[name];
    if (group !== undefined) for (const id of group) wanted.add(id);
    else if (ids.includes(name)) wanted.add(name);
    else
      throw new Error(
        `--rows: unknown row or group "${name}"; rows: ${ids.join(', ')}; groups: ${Object.keys(groups).join(', ')}`,
      );
  }
  if (wanted.size === 0) throw new Error('--rows: no row selected');
  return ids.filter((id) => wanted.has(id));
}

/** roundOrder returns the items in order for even rounds and reversed for odd ones (0-based). */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}
