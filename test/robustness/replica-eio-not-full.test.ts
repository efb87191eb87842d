/**
 * An I/O error on a small volume that is nearly empty is a failing disk, not a full one
 * (src/replication/local-failure.ts). NEARLY_FULL_BYTES is 2 × (SCAN_PAGE_BYTES + the hard
 * value limit) = 136 MiB: on any volume smaller than that, every EIO is taken for DISK_FULL, and
 * `/cluster` shows the replica `disk-failed: DISK_FULL`, its log "this replica's disk is full
 * (EIO, ..., 112 MiB free): ... free space on it", while `df` shows the volume 1% used.
 *
 * The EIO is real: the volume (an ext4 image on a loop device) is shut down with the ioctl the
 * file-system test suites use to model a disk that went away (EXT4_IOC_SHUTDOWN, "godown"):
 * every write then fails with EIO, and statfs still answers with the free space.
 * Skipped (with the reason) without root, loop devices or python3 (which issues the ioctl).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { localFailureOf } from '../../src/replication/local-failure.js';
import { loopFsUnavailable, mountLoopFs } from '../helpers/loop-fs.js';
import { tempDir } from '../helpers/temp-dir.js';

/** SHUTDOWN issues EXT4_IOC_SHUTDOWN (_IOR('X', 125, __u32)) with EXT4_GOING_FLAGS_NOLOGFLUSH on argv[1]. */
const SHUTDOWN = `import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, 0x8004587d, struct.pack('I', 2))
`;

const unavailable =
  loopFsUnavailable() ??
  (spawnSync('python3', ['-c', 'import fcntl']).status === 0 ? undefined : 'python3 is not installed');

const MIB = 1024 * 1024;

describe('an I/O error on a small, nearly empty volume', () => {
  it(
    'is said as a failing disk (DISK_IO_ERROR), not a full one',
    { skip: unavailable ?? false, timeout: 30000 },
    async () => {
      const dir = tempDir(after);
      const fs = mountLoopFs(dir, 128);
      try {
        const store = join(fs.mountPoint, 'node-b', 'shard-0');
        mkdirSync(store, { recursive: true });
        writeFileSync(join(store, 'before'), 'written while the disk worked');
        const shut = spawnSync('python3', ['-c', SHUTDOWN, fs.mountPoint], { encoding: 'utf8' });
        assert.equal(shut.status, 0, `EXT4_IOC_SHUTDOWN: ${shut.stderr}`);
        let eio: unknown;
        try {
          writeFileSync(join(store, 'after'), Buffer.alloc(4096));
        } catch (err) {
          eio = err;
        }
        assert.equal((eio as { code?: string } | undefined)?.code, 'EIO', 'a write fails with EIO');
        const s = statfsSync(fs.mountPoint);
        const free = s.bavail * s.bsize;
        const total = s.blocks * s.bsize;
        assert.ok(
          free > 0.9 * total,
          `the volume is nearly empty (${String(free)} of ${String(total)} free)`,
        );
        const f = await localFailureOf(eio, store);
        assert.equal(
          f?.code,
          'DISK_IO_ERROR',
          `an EIO with ${String(Math.round(free / MIB))} MiB of ${String(Math.round(total / MIB))} MiB free was said as: ${f?.message ?? 'nothing'}`,
        );
      } finally {
        fs.unmount();
      }
    },
  );
});
