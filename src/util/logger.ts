/**
 * The process logger: pino writing JSON lines to stdout (synchronously, so nothing is lost on exit).
 */
import { type Logger, pino } from 'pino';

/** createLogger returns the root logger at `level` ("info" unless DISTKV_LOG_LEVEL says otherwise). */
export function createLogger(level: string = process.env.DISTKV_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}
