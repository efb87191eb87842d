/**
 * Counts in messages: "1 key", "2 keys", "0 keys". One helper, so that progress and summary lines
 * do not say "1 keys" or "loaded 1 lines" where a count was written before a fixed plural.
 */

/**
 * plural is `n` followed by `noun` when n is 1, else by `nouns` (the noun with "s" by default:
 * pass it for an irregular plural, "1 entry", "2 entries").
 */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
