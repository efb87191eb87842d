/**
 * LMDB's C code prints "Write error: <strerror> position N, size M" to stderr without a newline
 * when a page write fails (a full disk), and lmdb-js has no option to silence it; with stdout and
 * stderr going to one place (a terminal, `2>&1`, one file) the log line that followed was glued to
 * it. routeLmdbConsoleErrors (src/storage/lmdb-console.ts) ends that line as lmdb-js reports the
 * failure, so the next log line starts on its own line. A child process plays LMDB's part (the
 * unterminated line on fd 2, then lmdb-js's report with the detail only that path adds) with
 * stdout and stderr on one file, as an operator's terminal shows them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';

const CONSOLE = new URL('../../src/storage/lmdb-console.js', import.meta.url).href;

/** SCRIPT prints LMDB's line, then reports two failed writes of one cause as lmdb-js does, routed to a pino log on fd 1. */
const SCRIPT = `
import { writeSync } from 'node:fs';
import { pino } from 'pino';
import { routeLmdbConsoleErrors } from ${JSON.stringify(CONSOLE)};
routeLmdbConsoleErrors(pino({ base: null }, pino.destination({ dest: 1, sync: true })));
const failed = (position) => {
  writeSync(2, 'Write error: No space left on device position ' + position + ', size 4096');
  const err = Object.assign(
    new Error('No space left on device: Attempting to write page at position ' + position + ', size 4096, blocks 1, buffer sizes 4096 0 0'),
    { code: 28 },
  );
  err.stack = 'Error: ' + err.message + '\\n    at Function.<anonymous> (file:///app/node_modules/lmdb/write.js:516:7)';
  console.error(err);
};
failed(8192);
failed(12288);
`;

describe("LMDB's own Write error line on stderr", () => {
  it('ends before the next log line, and a failure per page is one log line a minute', () => {
    const dir = tempDir(after);
    const out = join(dir, 'out.txt');
    const fd = openSync(out, 'w');
    try {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
        stdio: ['ignore', fd, fd],
        // Resolves pino from this repository's node_modules.
        cwd: new URL('../../../', import.meta.url).pathname,
        timeout: 20000,
      });
      assert.equal(r.status, 0, String(r.error ?? ''));
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(out, 'utf8').split('\n');
    const native = lines.filter((l) => l.startsWith('Write error: '));
    assert.deepEqual(
      native,
      [
        'Write error: No space left on device position 8192, size 4096',
        'Write error: No space left on device position 12288, size 4096',
      ],
      `each of LMDB's lines ends where it ends:\n${lines.join('\n')}`,
    );
    const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
    assert.equal(logged.length, 1, `one log line for one cause:\n${lines.join('\n')}`);
    assert.match(
      logged[0]?.msg ?? '',
      /^LMDB could not write a commit \(No space left on device\): the disk is full or failing/,
    );
  });
});
