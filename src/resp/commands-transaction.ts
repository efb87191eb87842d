/**
 * MULTI, EXEC and DISCARD, refused so that a transaction applies none of its commands. distkv has
 * no transactions (a transaction's keys may live on several stores, and a store's batch is not
 * isolated from other connections). Answered as unknown commands, MULTI and EXEC failed while the
 * commands between them ran one by one: ioredis's `multi().exec()` rejected with EXEC's error after
 * its writes had been applied, and a caller that retried the transaction applied them twice.
 *
 * So MULTI opens a transaction as in Redis (`+OK`, and the connection's `inMulti` is set), every
 * command sent inside it is refused as Redis refuses a command when queuing it (not executed,
 * naming the command), and EXEC then discards the transaction with Redis's EXECABORT; an EXEC
 * with nothing sent since MULTI answers an empty array, as Redis does. DISCARD leaves it (`+OK`),
 * QUIT still closes the connection, RESET leaves the transaction (commands-connection.ts), and a MULTI inside one gets Redis's nesting error. A client
 * that got `+OK` for MULTI always ends with EXEC or DISCARD, so its connection leaves the state.
 * WATCH and UNWATCH stay unknown commands: a client that watches fails at WATCH, before MULTI.
 */
import type { RespConnection } from './resp-connection.js';

/** transactionCommand answers MULTI, EXEC or DISCARD sent outside a transaction; false for any other command. */
export function transactionCommand(c: RespConnection, args: Buffer[]): boolean {
  const name = args[0]!;
  if (name.length !== 4 && name.length !== 5 && name.length !== 7) return false;
  const lower = name.toString('latin1').toLowerCase();
  if (lower !== 'multi' && lower !== 'exec' && lower !== 'discard') return false;
  const w = c.queue.now(c.proto);
  if (args.length !== 1) w.error(`ERR wrong number of arguments for '${lower}' command`);
  else if (!c.authenticated) w.error('NOAUTH Authentication required.');
  else if (lower !== 'multi') w.error(`ERR ${lower.toUpperCase()} without MULTI`);
  else {
    c.inMulti = 'empty';
    w.simple('OK');
  }
  return true;
}

/**
 * inTransaction answers a command sent after MULTI (`c.inMulti` set); false for QUIT and RESET,
 * which run as usual (RESET leaves the transaction, as in Redis).
 */
export function inTransaction(c: RespConnection, args: Buffer[]): boolean {
  const lower = args[0]!.toString('latin1').toLowerCase();
  if (lower === 'quit' || lower === 'reset') return false;
  const w = c.queue.now(c.proto);
  if (lower === 'exec' && args.length === 1) {
    if (c.inMulti === 'empty') w.array(0);
    else w.error('EXECABORT Transaction discarded because of previous errors.');
    c.inMulti = undefined;
  } else if (lower === 'discard' && args.length === 1) {
    c.inMulti = undefined;
    w.simple('OK');
  } else if (lower === 'multi' && args.length === 1) {
    w.error('ERR MULTI calls can not be nested');
  } else {
    c.inMulti = 'refused';
    w.error(
      `ERR MULTI is not supported by distkv: ${shown(lower)} not executed, and EXEC will discard the transaction (send the commands without MULTI; docs/resp.md)`,
    );
  }
  return true;
}

/** shown is a command name fit for an error line: at most 64 bytes, anything but printable ASCII as "?". */
function shown(lower: string): string {
  return lower
    .slice(0, 64)
    .toUpperCase()
    .replace(/[^\x21-\x7e]/g, '?');
}
