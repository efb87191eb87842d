/**
 * A shard worker that crashes (uncaught exception) when an op batch contains the key "crash-now";
 * otherwise it is the real shard worker. Used to test that a worker crash fails in-flight requests.
 */
import { parentPort } from 'node:worker_threads';
import '../../workers/shard-worker.js';

parentPort?.on('message', (msg: { type?: string; buffer?: ArrayBuffer }) => {
  if (msg.type === 'ops' && msg.buffer !== undefined && Buffer.from(msg.buffer).includes('crash-now')) {
    setImmediate(() => {
      throw new Error('injected worker crash');
    });
  }
});
