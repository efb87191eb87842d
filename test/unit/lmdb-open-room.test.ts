/**
 * An LMDB open without the file descriptors it needs (src/storage/lmdb-open-guard.ts). lmdb-js
 * crashes the process when `mdb_env_open` fails (it frees the environment twice): a node with 128
 * stores under `ulimit -n 300` died with a segmentation fault after its "listening" lines, no error
 * said. The open is now refused first with TOO_MANY_OPEN_FILES naming the file and the limit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { checkRoomToOpen, OPEN_ROOM } from '../../src/storage/lmdb-open-guard.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The child takes every descriptor its limit allows, gives `free` back, and opens an environment:
 * it prints `opened` or the error's code and message.
 */
const OPEN_WITHOUT_ROOM = `
import { closeSync, openSync } from 'node:fs';
const { openKvEnv } = await import(process.argv[1]);
const [dir, free] = [process.argv[2], Number(process.argv[3])];
const held = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch {}
for (let i = 0; i < free; i++) closeSync(held.pop());
try {
  const env = openKvEnv(dir, { noSync: false, overlappingSync: false });
  await env.root.close();
  console.log('opened');
} catch (err) {
  console.log(err.code + ' ' + err.message);
}
`;

/** openUnderLimit runs the child under `ulimit -n 256` with `free` descriptors left, and returns its exit and output. */
function openUnderLimit(
  dir: string,
  free: number,
): { status: number | null; signal: string | null; out: string } {
  const envModule = new URL('../../src/storage/lmdb-env.js', import.meta.url).href;
  const child = spawnSync(
    'sh',
    [
      '-c',
      'ulimit -n 256 && exec "$0" "$@"',
      process.execPath,
      '--input-type=module',
      '-e',
      OPEN_WITHOUT_ROOM,
      envModule,
      dir,
      String(free),
    ],
    { encoding: 'utf8', timeout: 30000 },
  );
  return { status: child.status, signal: child.signal, out: `${child.stdout}${child.stderr}`.trim() };
}

describe('an LMDB open without free file descriptors', () => {
  it('is refused with TOO_MANY_OPEN_FILES naming the file and the limit, not a crash of the process', () => {
    const dir = join(tempDir(after), 'store');
    // One free: LMDB's lock file takes it and the data file fails with EMFILE.
    const r = openUnderLimit(dir, 1);
    assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.out}`);
    assert.equal(r.status, 0, r.out);
    assert.match(
      r.out,
      /^TOO_MANY_OPEN_FILES .*data\.mdb not opened: the process holds \d+ open files of its limit 256 \(ulimit -n\).*raise the open-file limit/,
    );
  });

  it('goes ahead with room left, under the same limit', () => {
    const r = openUnderLimit(join(tempDir(after), 'store'), OPEN_ROOM + 8);
    assert.equal(r.out, 'opened');
  });

  it('counts the room against the soft limit, and checks nothing where it is unknown', () => {
    assert.throws(
      () => {
        checkRoomToOpen('d/data.mdb', { open: 100 - OPEN_ROOM + 1, limit: 100 });
      },
      (err: unknown) => err instanceof DistkvError && err.code === 'TOO_MANY_OPEN_FILES',
    );
    checkRoomToOpen('d/data.mdb', { open: 100 - OPEN_ROOM, limit: 100 });
    checkRoomToOpen('d/data.mdb', { open: 100, limit: undefined });
    checkRoomToOpen('d/data.mdb', undefined);
  });
});
