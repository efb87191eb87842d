/**
 * The marker of a bulk load that has not finished (docs/bulk-load.md): a file in the store
 * directory from the load's start until LMDB has synced its last transaction. `distkv serve`
 * refuses a store that holds one; `distkv load` run again finishes it. Apart from bulk-load.ts so
 * that the server checks for it without loading the loader (and with it LMDB and the bloom
 * filters) on its main thread.
 */

/** LOADING_MARKER is the file present in a store directory while a bulk load runs. */
export const LOADING_MARKER = 'LOADING';
