/**
 * Shard worker thread entry point: opens the stores named in workerData and relays messages
 * between the main thread and a ShardHost. All logic lives in src/worker/ (shard-host.ts dispatches).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toDistkvError } from '../src/errors.js';
import { createLogger } from '../src/util/logger.js';
import {
  type FromWorker,
  isToWorker,
  MESSAGE_VERSION,
  type ToWorker,
  type WorkerInit,
} from '../src/worker/messages.js';
import { ShardHost } from '../src/worker/shard-host.js';

const port = parentPort;
if (port === null) throw new Error('shard-worker must run as a worker thread');

const init = workerData as WorkerInit;
// Nothing is transferred: a transfer detaches the buffer, and one detached buffer makes every typed
// array access of this thread check for it from then on (src/worker/reply-batch.ts).
const send = (msg: FromWorker): void => {
  port.postMessage(msg);
};

if ((init.version as number) !== MESSAGE_VERSION) {
  send({
    type: 'failed',
    error: {
      code: 'INTERNAL',
      message: `worker message version ${String(init.version)} is not ${MESSAGE_VERSION}`,
    },
  });
} else {
  // Messages that arrive while the stores open are queued and handled once they are.
  const early: ToWorker[] = [];
  let host: ShardHost | undefined;
  port.on('message', (msg: unknown) => {
    if (!isToWorker(msg))
      process.emitWarning(`shard worker ${init.workerIndex}: dropped a malformed message`);
    else if (host === undefined) early.push(msg);
    else host.handle(msg);
  });
  const log = createLogger(init.logLevel).child({ worker: init.workerIndex });
  ShardHost.open(init.stores, init.positions, send, log, init.workerIndex).then(
    (h) => {
      host = h;
      send(h.readyMessage());
      for (const m of early.splice(0)) h.handle(m);
    },
    (err: unknown) => {
      send({ type: 'failed', error: toDistkvError(err).toWire() });
    },
  );
}
