/**
 * What a node logs while its disk stays full (a 48 MiB loop-mounted ext4 filesystem, as
 * disk-full.test.ts): compaction into LMDB retries with backoff, and each retry's failed commit
 * was logged at warn with lmdb-js's stack ("an LMDB commit failed (its writes report it)", from
 * workers/shard-worker.ts), a line per retry that said nothing the compaction's own line did not.
 * Now the compaction's first failure names the cause (the errno), without a stack, and nothing is
 * written per retry: within 12 s of a full disk (about seven retries) the log holds no stack and
 * a handful of warnings at most, and the recovery once space is freed is one info line with the
 * count. Skipped (with the reason) without root or loop devices.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const unavailable = loopFsUnavailable();
/** FULL_MS is how long the disk stays full: compaction retries 100, 200, 400, ... ms apart, about seven times. */
const FULL_MS = 12_000;
/** MAX_WARNINGS bounds the lines at warn and above while full: one per failing job (LMDB, compaction, flush, commit log) and a margin. */
const MAX_WARNINGS = 8;

/** LogLine is what the test reads of a JSON log line. */
interface LogLine {
  level: number;
  msg: string;
}

describe('the log of a node whose disk stays full', () => {
  it(
    'names each failure once without a stack, not once per retry, and says when compaction works again',
    { skip: unavailable ?? false, timeout: 120000 },
    async () => {
      const dir = tempDir(after);
      const fs = mountLoopFs(dir, 48);
      let server: ServerProcess | undefined;
      try {
        const ballast = join(fs.mountPoint, 'ballast');
        writeFileSync(ballast, Buffer.alloc(12 * 1024 * 1024, 1));
        const port = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const config = writeConfig(
          dir,
          [{ address: `127.0.0.1:${port}` }],
          '[storage]\nmemtable_bytes = 1048576\nwal_segment_bytes = 1048576\nmax_runs = 2\n',
        );
        const args = ['--config', config, '--data-dir', join(fs.mountPoint, 'data'), '--workers', '1'];
        server = await ServerProcess.start(args, `${base}/healthz`, {});
        const value = Buffer.alloc(32 * 1024, 7);
        let refused = 0;
        for (let i = 0; i < 5000 && refused === 0; i++) {
          const r = await fetch(`${base}/kv/k${i}`, { method: 'PUT', body: value });
          await r.arrayBuffer();
          if (r.status !== 204) refused++;
        }
        assert.equal(refused, 1, 'the disk filled up');
        await new Promise((r) => setTimeout(r, FULL_MS));
        const parsed = (): LogLine[] =>
          (server?.stdout ?? '')
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as LogLine);
        const shown = (): string => `${server?.stdout ?? ''}${server?.stderr ?? ''}`;
        const whileFull = parsed().filter((l) => l.level >= 40);
        assert.ok(whileFull.length <= MAX_WARNINGS, `a line per failing job, not per retry:\n${shown()}`);
        assert.ok(!server.stdout.includes('"stack"'), `no stack in the log:\n${shown()}`);
        assert.ok(
          whileFull.some((l) => /^compaction failed \(.+\)/.test(l.msg)),
          `the compaction's failure is named:\n${shown()}`,
        );
        rmSync(ballast);
        const deadline = Date.now() + 60_000;
        while (
          !parsed().some((l) => l.level === 30 && l.msg.startsWith('compaction succeeded again, after '))
        )
          if (Date.now() > deadline) assert.fail(`compaction did not succeed again:\n${shown()}`);
          else await new Promise((r) => setTimeout(r, 200));
        assert.equal(await server.stop(), 0);
      } finally {
        if (server !== undefined && server.child.exitCode === null) {
          server.child.kill('SIGKILL');
          await server.waitExit();
        }
        fs.unmount();
      }
    },
  );
});
