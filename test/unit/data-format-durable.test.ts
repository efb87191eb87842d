import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';

const DATA_FORMAT = new URL('../../src/server/data-format.js', import.meta.url).href;
const straceMissing = spawnSync('strace', ['-V']).error !== undefined;

/**
 * syscalls runs checkDataFormat on a new data directory under strace and returns its fsync and
 * rename calls in order, as `fsync` or `rename <target>`.
 */
function syscalls(dir: string): string[] {
  const script = `const { checkDataFormat } = await import(${JSON.stringify(DATA_FORMAT)}); checkDataFormat(${JSON.stringify(dir)}, [${JSON.stringify(join(dir, 'store'))}]);`;
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-qq',
      '-e',
      'trace=fsync,fdatasync,rename,renameat,renameat2',
      '--',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stderr
    .split('\n')
    .map((line) => {
      if (/\bf(data)?sync\(/.test(line) && !/= -1/.test(line)) return 'fsync';
      const rename = /rename(?:at2?)?\(.*"([^"]*)"/.exec(line);
      return rename === null ? undefined : `rename ${rename[1]!}`;
    })
    .filter((c) => c !== undefined);
}

describe('data directory FORMAT marker durability', () => {
  it(
    'fsyncs the marker before renaming it into place and fsyncs the directory after (a power loss must not leave stores without their marker)',
    { skip: straceMissing && 'strace is not installed' },
    () => {
      const dir = join(tempDir(after), 'data');
      const calls = syscalls(dir);
      const at = calls.indexOf(`rename ${join(dir, 'FORMAT')}`);
      assert.ok(at > 0, `FORMAT is renamed into place: ${calls.join(', ')}`);
      assert.equal(
        calls[at - 1],
        'fsync',
        `the marker's data is synced before the rename: ${calls.join(', ')}`,
      );
      assert.equal(calls[at + 1], 'fsync', `the directory is synced after the rename: ${calls.join(', ')}`);
    },
  );
});
