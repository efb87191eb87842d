/**
 * The one rule for a bearer token (`server.token`, `--token`, DISTKV_TOKEN; serve and every client
 * verb): text an `Authorization: Bearer <token>` header carries exactly as written. That is visible
 * ASCII (0x21-0x7e), with spaces or tabs only between its characters; "" means no token.
 *
 * Each thing it refuses went wrong silently before: a control character (a CR left by a token
 * file with CRLF line ends) and a character outside ASCII (`€`: undici refuses a header outside
 * Latin-1 before sending it; Latin-1 itself travels as bytes other clients spell otherwise) never
 * left the process, so a replica logged only "waiting for the leader to come up" and a client said
 * the node "is unreachable"; a leading or trailing space or tab is cut from a header's value on
 * the way, so a leader and replica both given `"t "` refused each other (401) for ever. Refusing
 * non-ASCII is the simple, clear choice: a token is a generated secret, not prose.
 */
import { DistkvError } from '../errors.js';

/** TOKEN_RULE says what a bearer token may hold, for the end of a refusal. */
export const TOKEN_RULE =
  'a bearer token is visible ASCII (letters, digits, punctuation), with spaces or tabs only between its characters: what an HTTP header carries as written';

function nameOf(c: number): string {
  if (c === 0x20) return 'a space';
  if (c === 0x09) return 'a tab';
  if (c === 0x0d) return 'a CR (a file with CRLF line ends leaves one)';
  if (c === 0x0a) return 'a newline';
  return `the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * tokenProblem says what is wrong with `token` (what it holds and at which offset, in UTF-16
 * units), or returns undefined when it can be sent as written (see the module comment).
 */
export function tokenProblem(token: string): string | undefined {
  const blank = (c: number): boolean => c === 0x20 || c === 0x09;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (blank(c)) {
      if (i === 0) return `begins with ${nameOf(c)}, which a header's value loses on the way`;
      continue;
    }
    if (c < 0x20 || c === 0x7f) return `holds ${nameOf(c)} at offset ${String(i)}`;
    if (c > 0x7e) {
      const cp = token.codePointAt(i) ?? c;
      const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      return `holds ${JSON.stringify(String.fromCodePoint(cp))} (${u}, not ASCII) at offset ${String(i)}`;
    }
  }
  const last = token.charCodeAt(token.length - 1);
  if (token.length > 0 && blank(last))
    return `ends with ${nameOf(last)} (offset ${String(token.length - 1)}), which a header's value loses on the way`;
  return undefined;
}

/** checkToken throws INVALID_ARGUMENT when `token` cannot travel in an Authorization header (see above). */
export function checkToken(token: string): void {
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new DistkvError('INVALID_ARGUMENT', `the token ${problem}: ${TOKEN_RULE}`);
}
