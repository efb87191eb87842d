/**
 * The process logger: pino writing to stdout synchronously (so nothing is lost on exit), in one of
 * two forms chosen by what stdout is:
 *
 *  - a terminal: one human-readable line per event (pino-pretty as a stream in this thread, not a
 *    transport thread), local time, level name, message, then the fields;
 *  - anything else (a pipe, a file, journald): pino's JSON lines, for log collectors
 *    (`distkv serve | npx pino-pretty` turns them into the terminal form).
 *
 * The choice is made with isatty(1), which also answers correctly in the shard worker threads
 * (their `process.stdout` is not the terminal itself), so every thread logs in the same form.
 */
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { type DestinationStream, type Logger, pino } from 'pino';

// pino-pretty (CommonJS) is loaded only for a terminal: ~30 ms of each thread's start otherwise,
// in every test and service run, whose stdout is no terminal.
const require = createRequire(import.meta.url);

/** createLogger returns the root logger at `level` ("info" unless DISTKV_LOG_LEVEL says otherwise). */
export function createLogger(level: string = process.env.DISTKV_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } }, isatty(1) ? prettyStdout() : jsonStdout());
}

function jsonStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}

function prettyStdout(): DestinationStream {
  const { PinoPretty } = require('pino-pretty') as typeof import('pino-pretty');
  return PinoPretty({
    destination: 1,
    sync: true,
    colorize: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
}
