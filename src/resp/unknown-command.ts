/**
 * The errors for a command or subcommand distkv does not know, byte for byte as Redis writes them
 * (processCommand and addReplySubcommandSyntaxError): the name and the start of the arguments are
 * quoted as raw bytes, each cut at 128 bytes and the arguments at about 128 bytes together, CR and
 * LF turned into spaces (RespWriter.errorBytes), and each cut at its first NUL byte, since Redis
 * prints them as C strings (`cString`). Quoting every argument whole made the error of an
 * unknown command of a million arguments as large as the command, and bytes that are not UTF-8
 * came back as U+FFFD.
 */

/** QUOTE_BYTES is how much of a name, and of the arguments together, the errors quote. */
const QUOTE_BYTES = 128;

/** cString returns `b` up to its first NUL byte: what Redis's `%s` prints of an argument. */
export function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/** unknownCommand is `-ERR unknown command 'name', with args beginning with: 'a' 'b' ` for `args`. */
export function unknownCommand(args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [
    Buffer.from("ERR unknown command '"),
    cString(args[0]!).subarray(0, QUOTE_BYTES),
    Buffer.from("', with args beginning with: "),
  ];
  // As Redis: arguments are added while the text so far is under 128 bytes, each cut to what is left.
  let shown = 0;
  for (let i = 1; i < args.length && shown < QUOTE_BYTES; i++) {
    const a = cString(args[i]!).subarray(0, QUOTE_BYTES - shown);
    parts.push(Buffer.from("'"), a, Buffer.from("' "));
    shown += a.length + 3;
  }
  return Buffer.concat(parts);
}

/** unknownSubcommand is `-ERR unknown subcommand 'sub'. Try NAME HELP.` for `sub` of command `name`. */
export function unknownSubcommand(sub: Buffer, name: string): Buffer {
  return Buffer.concat([
    Buffer.from("ERR unknown subcommand '"),
    cString(sub).subarray(0, QUOTE_BYTES),
    Buffer.from(`'. Try ${name} HELP.`),
  ]);
}

/**
 * subcommandSyntaxError is `-ERR unknown subcommand or wrong number of arguments for 'sub'. Try
 * NAME HELP.`, Redis's answer to a subcommand it knows sent with an argument count its handler
 * does not take (addReplySubcommandSyntaxError).
 */
export function subcommandSyntaxError(sub: Buffer, name: string): Buffer {
  return Buffer.concat([
    Buffer.from("ERR unknown subcommand or wrong number of arguments for '"),
    cString(sub).subarray(0, QUOTE_BYTES),
    Buffer.from(`'. Try ${name} HELP.`),
  ]);
}
