/**
 * The bearer token a client sends: text that can travel in an Authorization header. A control
 * character (a CR left by a token file with CRLF line ends, a newline) was refused by undici on
 * every request, after the client counted it sent: "no node answered /cluster: invalid
 * authorization header", or a write reported as maybe applied. So it is refused up front.
 */
import { DistkvError } from '../errors.js';

/** controlCharAt returns the offset of the first control character of `text` (C0 but tab, or DEL), or -1. */
export function controlCharAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return i;
  }
  return -1;
}

/** checkToken refuses a token that cannot travel in an Authorization header (see above). */
export function checkToken(token: string): void {
  const at = controlCharAt(token);
  if (at >= 0)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `the token holds a control character (${JSON.stringify(token[at])} at offset ${at}; a file with CRLF line ends leaves a CR): a bearer token is printable text`,
    );
}
