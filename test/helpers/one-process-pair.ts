/**
 * One `distkv serve` process hosting shard 0's leader and its replica (one worker, RESP on no
 * port of its own), for the tests that damage a store under a running node and read what /cluster
 * and `distkv cluster` say of it.
 */
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { ServerProcess, writeConfig } from './server-process.js';

/** OneProcessPair is the running process with its leader's and replica's addresses. */
export interface OneProcessPair {
  server: ServerProcess;
  node: string;
  replica: string;
}

/** startOneProcessPair starts the process with its config and data (`data/`) in `dir`. */
export async function startOneProcessPair(dir: string): Promise<OneProcessPair> {
  const [port, replicaPort] = await freePorts(2);
  const node = `127.0.0.1:${String(port)}`;
  const replica = `127.0.0.1:${String(replicaPort)}`;
  const config = writeConfig(dir, [{ address: node, replicas: [replica] }], '[server]\nresp_port_offset = 0');
  const server = await ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data'), '--workers', '1'],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
  return { server, node, replica };
}
