/**
 * INCRBYFLOAT's arithmetic (src/worker/edits.ts), as Redis computes it: both texts are read as
 * x87 long doubles (64-bit mantissa, round to nearest even, as strtold reads them), added in that
 * precision, and the sum printed with "%.17Lf", trailing zeros and point cut ("-0" is "0"). The
 * long double is modelled exactly with BigInt (`m * 2^e`, |m| < 2^64), so `0.3` then `1e3` gives
 * Redis's `1000.29999999999999999` too. Texts are what strtold takes in full: a decimal with an
 * optional exponent, a hexadecimal float (`0x1.8p3`), or `inf`/`infinity` (whose sum is refused as
 * not finite). A text past a long double's range (about 1e+4932), or so small it rounds to 0, is
 * not a float, as strtold's ERANGE makes it for Redis; subnormals (down to about 3.6e-4951) are
 * floats, as Redis takes them (their sums print as "0").
 */

/** Binary is `m * 2^e`, `m` rounded to MANTISSA_BITS bits (0 is `{m: 0n, e: 0}`). */
interface Binary {
  m: bigint;
  e: number;
}

/** MAX_FLOAT_CHARS is Redis's MAX_LONG_DOUBLE_CHARS: a longer text is not a float. */
const MAX_FLOAT_CHARS = 5 * 1024;
const MANTISSA_BITS = 64;
/**
 * MAX_EXPONENT / MIN_EXPONENT bound `e` of a long double: a normal one has `2^63 <= |m| < 2^64`, a
 * subnormal one `e = MIN_EXPONENT` and `|m| < 2^63` (MIN_EXPONENT is its quantum, 2^-16445).
 */
const MAX_EXPONENT = 16384 - MANTISSA_BITS;
const MIN_EXPONENT = -16382 - (MANTISSA_BITS - 1);
/** DECIMAL_RANGE bounds a text's decimal magnitude before any big arithmetic (a long double's range, with a margin). */
const DECIMAL_RANGE = 4960;
const FRACTION_DIGITS = 17n;
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITE = /^[+-]?inf(inity)?$/i;

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/** nearest rounds `num / den` (num >= 0, den > 0) to the nearest integer, ties to even. */
function nearest(num: bigint, den: bigint): bigint {
  const q = num / den;
  const twice = (num % den) * 2n;
  return twice > den || (twice === den && q % 2n === 1n) ? q + 1n : q;
}

/** toBinary rounds `sign * num / den * 2^shift` (num >= 0) to a long double. */
function toBinary(negative: boolean, num: bigint, den: bigint, shift: number): Binary {
  if (num === 0n) return { m: 0n, e: 0 };
  // s: the power of two that puts num / den * 2^s in [2^63, 2^64).
  let s = MANTISSA_BITS - (bitLength(num) - bitLength(den));
  const scaled = (k: number): [bigint, bigint] =>
    k >= 0 ? [num << BigInt(k), den] : [num, den << BigInt(-k)];
  let [n, d] = scaled(s);
  if (n / d >= 1n << 64n) [n, d] = scaled(--s);
  else if (n / d < 1n << 63n) [n, d] = scaled(++s);
  if (shift - s < MIN_EXPONENT) {
    // Below the normal range: rounded once, to a multiple of the subnormal quantum (maybe 0).
    const m = nearest(...scaled(shift - MIN_EXPONENT));
    return { m: negative ? -m : m, e: m === 0n ? 0 : MIN_EXPONENT };
  }
  let m = nearest(n, d);
  if (m === 1n << 64n) {
    m = 1n << 63n;
    s--;
  }
  return { m: negative ? -m : m, e: shift - s };
}

/** parse reads a float as strtold does: a Binary, 'inf', or undefined when it is not a float (or out of range). */
function parse(text: string): Binary | 'inf' | undefined {
  if (text.length === 0 || text.length >= MAX_FLOAT_CHARS) return undefined;
  if (INFINITE.test(text)) return 'inf';
  const h = HEX.exec(text);
  if (h !== null) return parseHex(h);
  const g = NUMBER.exec(text);
  if (g === null) return undefined;
  const digits = ((g[2] ?? '') + (g[3] ?? '')).replace(/^0+/, '');
  if ((g[2] ?? '') + (g[3] ?? '') === '') return undefined;
  if (digits === '') return { m: 0n, e: 0 };
  const e10 = Number(g[4] ?? '0') - (g[3] ?? '').length;
  const magnitude = digits.length + e10;
  if (!(Math.abs(magnitude) <= DECIMAL_RANGE)) return undefined;
  const m10 = BigInt(digits);
  const b =
    e10 >= 0
      ? toBinary(g[1] === '-', m10 * 10n ** BigInt(e10), 1n, 0)
      : toBinary(g[1] === '-', m10, 10n ** BigInt(-e10), 0);
  return b.m !== 0n && inRange(b) ? b : undefined;
}

/** parseHex reads the groups of a HEX match: sign, integer digits, fraction digits, binary exponent. */
function parseHex(h: RegExpExecArray): Binary | undefined {
  const digits = (h[2] ?? '') + (h[3] ?? '');
  if (digits === '') return undefined;
  const m = BigInt(`0x${digits}`);
  if (m === 0n) return { m: 0n, e: 0 };
  const e2 = Number(h[4] ?? '0') - 4 * (h[3] ?? '').length;
  if (!(Math.abs(e2) <= 4 * DECIMAL_RANGE + 4 * digits.length)) return undefined;
  const b = toBinary(h[1] === '-', m, 1n, e2);
  return b.m !== 0n && inRange(b) ? b : undefined;
}

function inRange(b: Binary): boolean {
  return b.m === 0n || (b.e <= MAX_EXPONENT && b.e >= MIN_EXPONENT);
}

/** add returns `a + b` rounded to a long double. */
function add(a: Binary, b: Binary): Binary {
  const e = Math.min(a.e, b.e);
  const sum = (a.m << BigInt(a.e - e)) + (b.m << BigInt(b.e - e));
  return toBinary(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** format prints `b` as "%.17Lf" does (exact, ties to even), then cuts trailing zeros and a trailing point. */
function format(b: Binary): string {
  const abs = b.m < 0n ? -b.m : b.m;
  const tenths = 10n ** FRACTION_DIGITS;
  const scaled = b.e >= 0 ? (abs << BigInt(b.e)) * tenths : nearest(abs * tenths, 1n << BigInt(-b.e));
  if (scaled === 0n) return '0';
  const digits = scaled.toString().padStart(Number(FRACTION_DIGITS) + 1, '0');
  const int = digits.slice(0, -Number(FRACTION_DIGITS));
  const frac = digits.slice(-Number(FRACTION_DIGITS)).replace(/0+$/, '');
  return `${b.m < 0n ? '-' : ''}${int}${frac === '' ? '' : `.${frac}`}`;
}

/** FloatSum is the outcome of `addFloat`: the new value's text, or which error Redis answers. */
export type FloatSum = { value: string } | { error: 'not-a-float' | 'not-finite' };

/** addFloat adds the float texts `current` (a missing key is 0) and `delta` as Redis's INCRBYFLOAT does. */
export function addFloat(current: string | undefined, delta: string): FloatSum {
  const c = current === undefined ? { m: 0n, e: 0 } : parse(current);
  const d = parse(delta);
  if (c === undefined || d === undefined) return { error: 'not-a-float' };
  if (c === 'inf' || d === 'inf') return { error: 'not-finite' };
  const sum = add(c, d);
  return inRange(sum) ? { value: format(sum) } : { error: 'not-finite' };
}
