/**
 * distkv's package entry: the client library, the routing module and the error catalogue.
 */
export { type ClientOptions, type ClientStats, DistkvClient } from './client/index.js';
export { DistkvError, ERROR_CATALOGUE, type ErrorCode } from './errors.js';
export { SLOT_COUNT, slotOf } from './routing/slot.js';
export { ShardMap, type ShardInfo } from './routing/shard-map.js';
