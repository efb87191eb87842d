/**
 * Seed form: the query of a seed endpoint (`/get`, `/set`) read as the seed's `r.Form.Get` reads it,
 * through Go's `url.ParseQuery`: pairs split on '&'; a pair holding ';' is dropped (Go 1.17 and
 * later); '+' is a space; a pair with a '%' not followed by two hex digits is dropped; the first
 * value of a name wins. Go's strings are bytes, so `%FF` is the byte 0xFF, not a malformed pair:
 * a name's value comes back as text when its bytes are UTF-8, else as those bytes.
 */
import { isUtf8 } from 'node:buffer';

const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const PERCENT_BYTE = /%([0-9A-Fa-f]{2})/g;

/** seedFormValue returns the first value of `name` in `query` ("" when absent or dropped). */
export function seedFormValue(query: string, name: string): string | Buffer {
  for (const pair of query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const n = unescapeBytes(rawName);
    const v = unescapeBytes(rawValue);
    if (n === undefined || v === undefined || n.toString('latin1') !== nameBytes(name)) continue;
    return isUtf8(v) ? v.toString('utf8') : v;
  }
  return '';
}

/** nameBytes is `name` (ASCII) as the latin1 string of its bytes. */
function nameBytes(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

/**
 * unescapeBytes is Go's url.QueryUnescape over bytes, or undefined when a '%' is malformed (or the
 * text holds U+FFFD: raw bytes that were not UTF-8, which the request head could not keep).
 */
function unescapeBytes(raw: string): Buffer | undefined {
  if (BAD_PERCENT.test(raw) || raw.includes('\uFFFD')) return undefined;
  let text = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  // Characters over 0x7F (raw UTF-8 a client sent) become their UTF-8 bytes, each as one latin1 char.
  if (/[\u0080-\uffff]/.test(text)) text = Buffer.from(text, 'utf8').toString('latin1');
  return Buffer.from(
    text.replaceAll(PERCENT_BYTE, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
}
