/**
 * HTTP-dates as a recipient reads them (RFC 9110 section 5.6.7): IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), and the two obsolete forms a recipient takes too, RFC 850
 * (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`, GMT without saying
 * so). Names are case-sensitive and every field has its width. Date.parse was used before: it
 * also took `May 1` (as 1 May 2001, a date long past: a Retry-After asking to wait became "ask
 * again at once") and read `... 08:49:37 +0200` as GMT.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTH = `(${MONTHS.join('|')})`;
/** IMF_FIXDATE: day-name, DD Mon YYYY HH:MM:SS GMT. */
const IMF_FIXDATE = new RegExp(`^(${DAYS.join('|')}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** RFC_850: long day-name, DD-Mon-YY HH:MM:SS GMT. */
const RFC_850 = new RegExp(`^(${LONG_DAYS.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** ASCTIME: day-name Mon D(D, space-padded) HH:MM:SS YYYY. */
const ASCTIME = new RegExp(`^(${DAYS.join('|')}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * rfc850Year reads a two-digit year as RFC 9110 asks: a year that would be more than 50 years
 * after `now` is the most recent past year with those two digits.
 */
function rfc850Year(twoDigits: number, now: number): number {
  const thisYear = new Date(now).getUTCFullYear();
  const century = thisYear - (thisYear % 100);
  const year = century + twoDigits;
  return year > thisYear + 50 ? year - 100 : year;
}

/**
 * utcMs is the instant of the fields, or undefined when they name no real time (31 Feb, 25:00)
 * or the day name is not that date's weekday.
 */
function utcMs(
  day: string,
  dayNames: readonly string[],
  y: number,
  mon: string,
  d: number,
  hms: string[],
): number | undefined {
  const [h, m, s] = hms.map(Number) as [number, number, number];
  const month = MONTHS.indexOf(mon);
  const at = Date.UTC(y, month, d, h, m, s);
  const back = new Date(at);
  const real =
    back.getUTCFullYear() === y &&
    back.getUTCMonth() === month &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === m &&
    back.getUTCSeconds() === s;
  return real && dayNames[back.getUTCDay()] === day ? at : undefined;
}

/** parseHttpDate returns the Unix ms an HTTP-date names, or undefined for any other text. `now` places an RFC 850 two-digit year. */
export function parseHttpDate(text: string, now = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utcMs(m[1]!, DAYS, Number(m[4]), m[3]!, Number(m[2]), m.slice(5, 8));
  m = RFC_850.exec(text);
  if (m !== null)
    return utcMs(m[1]!, LONG_DAYS, rfc850Year(Number(m[4]), now), m[3]!, Number(m[2]), m.slice(5, 8));
  m = ASCTIME.exec(text);
  if (m !== null) return utcMs(m[1]!, DAYS, Number(m[7]), m[2]!, Number(m[3]!.trim()), m.slice(4, 7));
  return undefined;
}
