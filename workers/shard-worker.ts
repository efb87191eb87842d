/**
 * Shard worker thread entry point: opens the stores named in workerData and relays messages
 * between the main thread and a ShardHost. All logic lives in src/worker/shard-host.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toDistkvError } from '../src/errors.js';
import { isToWorker, MESSAGE_VERSION, type FromWorker, type WorkerInit } from '../src/worker/messages.js';
import { ShardHost } from '../src/worker/shard-host.js';

const port = parentPort;
if (port === null) throw new Error('shard-worker must run as a worker thread');

const init = workerData as WorkerInit;
const send = (msg: FromWorker, transfer?: ArrayBuffer[]): void => {
  port.postMessage(msg, transfer);
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
  try {
    const host = new ShardHost(init.stores, init.positions, send);
    port.on('message', (msg: unknown) => {
      if (isToWorker(msg)) host.handle(msg);
      else process.emitWarning(`shard worker ${init.workerIndex}: dropped a malformed message`);
    });
    send(host.readyMessage());
  } catch (err) {
    send({ type: 'failed', error: toDistkvError(err).toWire() });
  }
}
