/**
 * The client library's public surface (`distkv/client`).
 */
export { DistkvClient } from './client.js';
export { decodeScanPage, errorOf } from './wire-decode.js';
export { DEFAULT_PORT, endpointsFromEnv, parseEndpoint } from './endpoint.js';
export type { Key } from './key-bytes.js';
export type {
  BatchOp,
  BatchResult,
  CallOptions,
  ClusterOptions,
  ClientOptions,
  ClientStats,
  ClusterReplica,
  ClusterShard,
  ClusterView,
  DeleteOptions,
  GetOptions,
  NodeStats,
  PutOptions,
  PutResult,
  WriteConcern,
  ScanItem,
  ScanOptions,
  ScanPage,
  ScanPageOptions,
  TimeoutFacts,
  Versioned,
  WaitNotice,
  WriteConditions,
} from './types.js';
export type { WatchChange, WatchOptions, WatchStreamNotice } from './watch.js';
export type { ShardInfo, ShardMap } from '../routing/shard-map.js';
export { DistkvError, type ErrorCode, OutcomeUnknownError, PreconditionFailedError } from '../errors.js';
