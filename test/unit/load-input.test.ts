/**
 * What `distkv load` does with an input it cannot read as JSON lines (src/cli/load-input.ts).
 *
 * - A read that fails mid-way (an I/O error) was thrown as it came ("EIO: i/o error, read", exit 1)
 *   past the cleanup a bad line gets: every store kept its LOADING marker, so serve refused the
 *   fresh data directory, with no word on what to do. It now stops the load as a mistake in the
 *   input does: the stores it found empty are left as they were, and the message says so.
 * - A distkv backup file (binary, "DKVB") was refused as "not JSON (Unexpected token 'D'...)" after
 *   every store was marked: it now says it is a backup and to use distkv restore, before any store.
 * - A FIFO is read like standard input: a load reads its input once, unlike a restore.
 * - Bytes that are not UTF-8 (a Latin-1 export) were read as U+FFFD: the load changed such keys and
 *   values and merged two keys that differ only there, and said it loaded every line (a tester's
 *   find). Such a line is now refused, naming the byte.
 * - A line was collected whatever its length: one over V8's longest string (a file without line
 *   ends) crashed the load with a stack trace, every store left marked LOADING. It is now refused
 *   once it passes the bound the config's key and value limits give, without reading the rest.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { DistkvError } from '../../src/errors.js';
import { encodeBackupHeader } from '../../src/cli/backup-format.js';
import { load } from '../../src/cli/load.js';
import { InputReadError, LoadInput, maxLineBytes } from '../../src/cli/load-input.js';
import { LOADING_MARKER } from '../../src/storage/bulk-load-marker.js';
import { openTestLsm } from '../helpers/lsm.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

async function setup(): Promise<{ dir: string; config: string; data: string; store: string }> {
  const dir = tempDir(after);
  const port = await freePort();
  const config = join(dir, 'c.toml');
  writeFileSync(config, `[[shards]]\nname = "s0"\nidx = 0\naddress = "127.0.0.1:${port}"\n`);
  const data = join(dir, 'data');
  return { dir, config, data, store: join(data, `127.0.0.1_${port}`, 's0') };
}

/** failingAfter is a stream of `lines` JSON lines whose next read then fails with EIO. */
function failingAfter(lines: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent < lines) this.push(`{"key":"k${sent++}","value":"v"}\n`);
      else this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5 }));
    },
  });
}

/**
 * withInput makes every file `distkv load` opens read as `stream` while `work` runs (FileHandle's
 * createReadStream, which the load reads FILE with, answers it).
 */
async function withInput<T>(stream: Readable, work: () => Promise<T>): Promise<T> {
  const fh = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(fh) as { createReadStream: unknown };
  await fh.close();
  const real = proto.createReadStream;
  proto.createReadStream = () => stream;
  try {
    return await work();
  } finally {
    proto.createReadStream = real;
  }
}

describe('distkv load reading its input', () => {
  it('says a read that failed mid-way loaded nothing and leaves the stores as they were', async () => {
    const { dir, config, data, store } = await setup();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"key":"a","value":"1"}\n');
    const err = await withInput(failingAfter(3), () =>
      load([input, '--config', config, '--data-dir', data]).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof UsageError, `${String(err)} (not a UsageError: exit 1)`);
    assert.equal(
      err.message,
      `cannot read ${input} after line 3: an input/output error (the disk or its file system failed); nothing was loaded: the stores are as they were`,
    );
    assert.equal(
      existsSync(join(store, LOADING_MARKER)),
      false,
      'serve refuses a store with a LOADING marker',
    );
    assert.deepEqual(readdirSync(join(store, 'runs')), []);
    // The load run again once the input reads holds exactly that input.
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
    const s = await openTestLsm(store);
    try {
      assert.deepEqual(
        s.scan(Buffer.from(''), undefined, 10).map((e) => Buffer.from(e.key).toString()),
        ['a'],
      );
    } finally {
      await s.close();
    }
  });

  it('names the input and the last line read when a read fails (InputReadError)', async () => {
    const input = await LoadInput.fromStream('in.jsonl', failingAfter(2));
    assert.equal(await input.next(), '{"key":"k0","value":"v"}');
    assert.equal(await input.next(), '{"key":"k1","value":"v"}');
    await assert.rejects(input.next(), (err: unknown) => {
      assert.ok(err instanceof InputReadError, String(err));
      assert.match(err.message, /^cannot read in\.jsonl after line 2: an input\/output error/);
      return true;
    });
  });

  it('refuses a backup file, saying to restore it, before any store is touched', async () => {
    const { dir, config, data, store } = await setup();
    const backup = join(dir, 'nightly.dkv');
    writeFileSync(backup, Buffer.concat([encodeBackupHeader(), Buffer.from('\n{"key":"a"}\n')]));
    await assert.rejects(load([backup, '--config', config, '--data-dir', data]), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(
        err.message,
        `${backup} is a distkv backup file (it starts with "DKVB"), not JSON lines: load it into a running node with distkv restore ${backup}`,
      );
      return true;
    });
    assert.equal(existsSync(store), false);
  });

  it('reads a named pipe as it reads standard input', async () => {
    const { dir, config, data, store } = await setup();
    const fifo = join(dir, 'keys.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = createWriteStream(fifo);
    writer.end('{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n');
    assert.equal(await load([fifo, '--config', config, '--data-dir', data]), 0);
    const s = await openTestLsm(store);
    try {
      assert.equal(s.scan(Buffer.from(''), undefined, 10).length, 2);
    } finally {
      await s.close();
    }
  });

  it('refuses a line that is not UTF-8, naming it and the byte, and leaves the stores as they were', async () => {
    const { dir, config, data, store } = await setup();
    const input = join(dir, 'latin1.jsonl');
    // Two keys that differ only in a Latin-1 byte: read as U+FFFD they were one key, loaded as "2 lines".
    writeFileSync(
      input,
      Buffer.concat([
        Buffer.from('{"key":"plain","value":"1"}\n{"key":"caf'),
        Buffer.from([0xe9]),
        Buffer.from('","value":"latin1"}\n{"key":"caf'),
        Buffer.from([0xe8]),
        Buffer.from('","value":"other"}\n'),
      ]),
    );
    await assert.rejects(load([input, '--config', config, '--data-dir', data]), (err: unknown) => {
      assert.ok(err instanceof DistkvError || err instanceof UsageError, String(err));
      assert.match(err.message, /line 2: not UTF-8 \(byte 12 is 0xe9\): JSON text is UTF-8/);
      assert.match(err.message, /nothing was loaded/);
      return true;
    });
    assert.equal(existsSync(join(store, LOADING_MARKER)), false);
    assert.deepEqual(readdirSync(join(store, 'runs')), []);
  });

  it('takes LF, CR LF and CR line ends, a BOM and a last line without an end', async () => {
    const text = '\ufeff{"key":"a"}\r\n{"key":"b"}\r{"key":"c"}\n\n{"key":"d"}';
    const input = await LoadInput.fromStream('in.jsonl', Readable.from([Buffer.from(text)]));
    const lines: string[] = [];
    for (let l = await input.next(); l !== undefined; l = await input.next()) lines.push(l);
    assert.deepEqual(lines, ['{"key":"a"}', '{"key":"b"}', '{"key":"c"}', '{"key":"d"}']);
    // Split anywhere between chunks, the lines are the same (a CR at a chunk's end, its LF next).
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = await LoadInput.fromStream(
        'in.jsonl',
        Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]),
      );
      const got: string[] = [];
      for (let l = await split.next(); l !== undefined; l = await split.next()) got.push(l);
      assert.deepEqual(got, lines, `cut at ${cut}`);
    }
  });

  it('refuses a line longer than the limits allow once it passes the bound, without reading the rest', async () => {
    const bound = maxLineBytes(16, 64);
    let sent = 0;
    // 64 MiB with no line end (the crash needed over 512 MiB): the old reader took all of it.
    const endless = new Readable({
      read() {
        if (sent >= 64 << 20) this.push(null);
        else {
          sent += 1 << 16;
          this.push(Buffer.alloc(1 << 16, 0x7a));
        }
      },
    });
    const input = await LoadInput.fromStream('in.jsonl', endless, undefined, bound);
    await assert.rejects(input.next(), (err: unknown) => {
      assert.ok(err instanceof DistkvError, String(err));
      assert.match(err.message, new RegExp(`^line 1: longer than ${bound} bytes`));
      return true;
    });
    assert.ok(sent < 4 << 20, `${sent} bytes read for a line bounded at ${bound}`);
  });
});
