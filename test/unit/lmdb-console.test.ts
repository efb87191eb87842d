/**
 * routeLmdbConsoleErrors (src/storage/lmdb-console.ts): lmdb-js writes a commit it could not write
 * to `console.error` itself (lmdb/write.js), which on a shard worker put multi-line stack traces on
 * the node's stderr, outside the JSON log, on a full disk. Routed, each is one log line saying what
 * to do; anything else written to `console.error` still reaches the console.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { routeLmdbConsoleErrors } from '../../src/storage/lmdb-console.js';

describe('routeLmdbConsoleErrors', () => {
  it("logs lmdb-js's own commit failures as one line and leaves other console errors alone", () => {
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      error: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }),
    } as unknown as Logger;
    const printed: unknown[][] = [];
    const before = console.error;
    console.error = (...args: unknown[]) => printed.push(args);
    try {
      routeLmdbConsoleErrors(log);
      routeLmdbConsoleErrors(log); // once per thread: a second call adds nothing
      const lmdb = Object.assign(new Error('Input/output error'), { code: 5 });
      lmdb.stack =
        'Error: Input/output error\n    at Function.<anonymous> (file:///app/node_modules/lmdb/write.js:516:7)';
      console.error(lmdb);
      console.error(lmdb); // a retry's failure within the minute: counted, not written
      console.error(new Error('something else'));
      console.error('a plain message');
    } finally {
      console.error = before;
    }
    assert.equal(logged.length, 1, 'only the lmdb-js error goes to the log, once a minute');
    assert.equal(logged[0]!.obj.errno, 5);
    assert.match(
      logged[0]!.msg,
      /^LMDB could not write a commit \(Input\/output error\): the disk is full or failing/,
    );
    assert.match(logged[0]!.msg, /free space on the file system/);
    assert.equal(printed.length, 2, 'the other two reach the console');
  });
});
