/**
 * globMatch: Redis's glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET), on byte strings
 * given as latin1 strings (one char per byte): `*` any run, `?` any one byte, `[abc]`, `[^a-z]`
 * classes, and `\` escaping the next character.
 */

/**
 * globMatch reports whether `text` matches `pattern`. Iterative with one backtracking point per
 * `*` run (the classic wildcard walk), so it is O(pattern × text) whatever the pattern.
 */
export function globMatch(pattern: string, text: string): boolean {
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < text.length) {
    if (pattern[pi] === '*') {
      starP = pi++;
      starT = ti;
      continue;
    }
    const next = pi < pattern.length ? matchOne(pattern, pi, text[ti]!) : -1;
    if (next >= 0) {
      pi = next;
      ti++;
    } else if (starP >= 0) {
      pi = starP + 1;
      ti = ++starT;
    } else return false;
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

/** matchOne matches one character against the pattern token at p[i]: the index after it, or -1. */
function matchOne(p: string, i: number, c: string): number {
  const ch = p[i]!;
  if (ch === '?') return i + 1;
  if (ch === '[') {
    const r = matchClass(p, i + 1, c);
    return r.matched ? r.next : -1;
  }
  if (ch === '\\' && i + 1 < p.length) return p[i + 1] === c ? i + 2 : -1;
  return ch === c ? i + 1 : -1;
}

/** matchClass matches `c` against the class starting at p[i] (after '['); next is the index after ']'. */
function matchClass(p: string, i: number, c: string): { matched: boolean; next: number } {
  const negate = p[i] === '^';
  if (negate) i++;
  let matched = false;
  while (i < p.length && p[i] !== ']') {
    if (p[i] === '\\' && i + 1 < p.length) {
      if (p[i + 1] === c) matched = true;
      i += 2;
    } else if (p[i + 1] === '-' && i + 2 < p.length) {
      // As Redis: "a-]" is the range a..']', even where a ']' was meant to close the class.
      let lo = p[i]!;
      let hi = p[i + 2]!;
      if (lo > hi) [lo, hi] = [hi, lo];
      if (c >= lo && c <= hi) matched = true;
      i += 3;
    } else {
      if (p[i] === c) matched = true;
      i++;
    }
  }
  return { matched: negate ? !matched : matched, next: i < p.length ? i + 1 : i };
}

/** literalPrefix returns the part of `pattern` before its first special character (a scan can seek to it). */
export function literalPrefix(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*' || ch === '?' || ch === '[') return out;
    if (ch === '\\') {
      if (i + 1 >= pattern.length) return out;
      out += pattern[++i]!;
    } else out += ch;
  }
  return out;
}
