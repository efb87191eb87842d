/**
 * The client library's public surface.
 */
export { type ClientOptions, type ClientStats, DistkvClient, errorOf } from './client.js';
export { DistkvError, type ErrorCode } from '../errors.js';
