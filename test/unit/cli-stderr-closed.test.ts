/**
 * The CLI with its standard error on a closed pipe: `distkv scan 2>&1 | head -4` (the page fits the
 * pipe, then head has gone when scan writes its "(more: ...)" note), or a log collector that went
 * away. bin/distkv.js ends a closed stdout quietly with 0 (README, "Exit codes"), but stderr has no
 * such handler: the EPIPE of its write is an uncaught error, so a command that did its work exits 1
 * ("not found, unreachable or refused") and a usage mistake exits 1 instead of 2. Seen as an
 * intermittent exit 1 of `distkv scan 2>&1 | head -4` under `set -o pipefail`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { BIN } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

/** exitWithStderrClosed runs the CLI with stdout ignored and stderr a pipe closed at once. */
function exitWithStderrClosed(...args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The child needs far longer to load its modules than this takes: every write it makes to
  // stderr meets a pipe without a reader.
  child.stderr.destroy();
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve(code);
    });
  });
}

describe('distkv with its standard error on a closed pipe', () => {
  it('a usage mistake still exits 2', async () => {
    assert.equal(await exitWithStderrClosed('get'), 2);
  });

  it('a command that did its work still exits 0 when only its note to stderr is lost', async () => {
    const file = join(dir, 's0.diverged-3-5-5.log');
    const b = Buffer.alloc(recordSize(1, 1));
    encodeRecord(b, 0, TYPE_PUT, 5, Buffer.from('k'), Buffer.from('v'));
    writeFileSync(file, b);
    // With --json the summary line goes to stderr (distkv diverged --help).
    assert.equal(await exitWithStderrClosed('diverged', '--json', file), 0);
  });
});
