/**
 * Inline commands (a line of words, as typed into telnet) split into arguments as Redis's
 * sdssplitargs splits them: used by the parser (resp-parser.ts) for a command that does not start
 * with `*`.
 */

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
/** ESCAPES maps the letter after a backslash in a double-quoted inline argument to its byte. */
const ESCAPES: Record<number, number> = { 0x6e: LF, 0x72: CR, 0x74: TAB, 0x62: 0x08, 0x61: 0x07 };

/** isBlank is C's isspace(): the bytes skipped between inline arguments. */
function isBlank(c: number | undefined): boolean {
  return c === SPACE || (c !== undefined && c >= TAB && c <= CR);
}

/** isSeparator reports whether `c` ends an unquoted inline argument. */
function isSeparator(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF;
}

/** hexDigit returns the value of a hex digit byte, or -1. */
function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * splitInline splits an inline command line into `args` as Redis's sdssplitargs does: blanks
 * separate arguments; "double quotes" take the escapes \n \r \t \b \a \xHH and \<any byte>;
 * 'single quotes' take \'; a closing quote must end the argument. It returns false for an
 * unterminated quote or a closing quote followed by something other than a blank. Arguments
 * without quotes are views into `line`.
 */
export function splitInline(line: Buffer, args: Buffer[]): boolean {
  const end = line.length;
  let i = 0;
  for (;;) {
    while (i < end && isBlank(line[i])) i++;
    if (i >= end) return true;
    const from = i;
    while (i < end && !isSeparator(line[i]!) && line[i] !== DQUOTE && line[i] !== SQUOTE) i++;
    if (i >= end || isSeparator(line[i]!)) {
      args.push(line.subarray(from, i));
      continue;
    }
    // A quote: the argument is copied, escapes resolved, through the matching quote.
    const quote = line[i]!;
    const out: number[] = [...line.subarray(from, i)];
    for (i++; ;) {
      if (i >= end) return false;
      const c = line[i]!;
      if (c === quote) break;
      if (c === BACKSLASH && quote === DQUOTE && i + 1 < end) {
        const hi = hexDigit(line[i + 2]);
        const lo = hexDigit(line[i + 3]);
        if (line[i + 1] === 0x78 && hi >= 0 && lo >= 0) {
          out.push(hi * 16 + lo);
          i += 4;
        } else {
          const e = line[i + 1]!;
          out.push(ESCAPES[e] ?? e);
          i += 2;
        }
      } else if (c === BACKSLASH && quote === SQUOTE && line[i + 1] === SQUOTE) {
        out.push(SQUOTE);
        i += 2;
      } else {
        out.push(c);
        i++;
      }
    }
    i++;
    if (i < end && !isBlank(line[i])) return false;
    args.push(Buffer.from(out));
  }
}
