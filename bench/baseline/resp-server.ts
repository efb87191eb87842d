/**
 * The RESP baseline: a bare node:net server over a JavaScript Map that answers GET and SET (and
 * what redis-benchmark asks first: PING, CONFIG GET) with distkv's own RESP parser and reply
 * writer, one socket write per connection per read. No routing, no worker thread, no persistence:
 * the ceiling a Node.js RESP server reaches on this machine, so `npm run bench:resp` can say how
 * much of the distance to redis-server is Node's socket layer and how much is distkv's.
 *
 * With `--log DIR` a read's replies that include a SET are written only once its SETs are appended
 * to a file in DIR (one write per event-loop turn, turn-log.ts) and, with `--sync`, fdatasynced: the
 * ceiling of a Node.js RESP server that acknowledges writes durably, next to redis-server with
 * appendfsync always. Replies stay in order: the turn's sync runs before the next read is parsed.
 *
 * Usage: node dist/bench/baseline/resp-server.js [--port 9091] [--host 127.0.0.1] [--log DIR [--sync]]
 */
import { createServer } from 'node:net';
import { RespWriter } from '../../src/resp/resp-format.js';
import { RespParser } from '../../src/resp/resp-parser.js';
import { arg, count } from '../lib/args.js';
import { TurnLog } from './turn-log.js';

const host = arg('host', '127.0.0.1');
const port = count('port', 9091);
const map = new Map<string, Buffer>();
const logDir = arg('log', '');
const log = logDir === '' ? undefined : new TurnLog(logDir, process.argv.includes('--sync'));

createServer({ noDelay: true }, (socket) => {
  const parser = new RespParser(64 * 1024 * 1024);
  const out = new RespWriter(2);
  /** logged: SETs of this read went to the log; the read's replies wait for it. */
  let logged = false;
  const onCommand = (args: Buffer[]): boolean => {
    const name = args[0]!.toString('latin1').toUpperCase();
    if (name === 'GET' && args.length === 2) {
      const v = map.get(args[1]!.toString('latin1'));
      if (v === undefined) out.nil();
      else out.bulk(v);
    } else if (name === 'SET' && args.length >= 3) {
      const key = args[1]!.toString('latin1');
      const value = Buffer.from(args[2]!);
      map.set(key, value);
      if (log !== undefined) {
        log.append(key, value);
        logged = true;
      }
      out.ok();
    } else if (name === 'PING') out.simple('PONG');
    else if (name === 'CONFIG') out.array(0);
    else out.error(`ERR unknown command '${name}'`);
    return true;
  };
  socket.on('data', (chunk: Buffer) => {
    const error = parser.feed(chunk, onCommand);
    if (error !== undefined) {
      out.error(`ERR ${error}`);
      socket.end(out.take());
      return;
    }
    if (out.length === 0) return;
    const replies = out.take();
    if (!logged) socket.write(replies);
    else {
      logged = false;
      log!.whenLogged(() => socket.write(replies));
    }
  });
  socket.on('error', () => {
    socket.destroy();
  });
}).listen(port, host);
