/**
 * A leader and a replica whose data directory is on a small loop-mounted ext4 image (loop-fs.ts)
 * nearly filled by a ballast file, for the tests of a replica's own full disk: the leader's
 * VALUES values of 1 MiB are more than the replica's disk has left, and removing the ballast
 * gives the space back.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LoopFs, mountLoopFs } from './loop-fs.js';
import { freePorts } from './ports.js';
import { type ServerProcess, startConfigNode, writeConfig } from './server-process.js';
import { tempDir } from './temp-dir.js';

const MIB = 1024 * 1024;
/** VALUES of 1 MiB at the leader: more than the replica's disk has left (BALLAST_MIB of DISK_MIB). */
export const VALUES = 24;
const DISK_MIB = 64;
const BALLAST_MIB = 52;

/** FullDiskPair is the leader A (started) and the replica B's address, config and full disk. */
export interface FullDiskPair {
  A: string;
  B: string;
  config: string;
  /** bDir is B's data directory, on the loop-mounted disk. */
  bDir: string;
  /** ballast is the file filling B's disk: remove it to give the space back. */
  ballast: string;
  /** running lists the processes to stop; `close` stops them and unmounts the disk. */
  running: ServerProcess[];
  fs: LoopFs;
  close: () => Promise<void>;
}

/**
 * fullDiskPair mounts the disk, writes its ballast, and starts leader A alone; `storage` is the
 * config's `[storage]` lines (the replica pulls every 200 ms).
 */
export async function fullDiskPair(after: (fn: () => void) => void, storage: string): Promise<FullDiskPair> {
  const dir = tempDir(after);
  const fs = mountLoopFs(dir, DISK_MIB);
  const running: ServerProcess[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(running.map((p) => p.stop()));
    fs.unmount();
  };
  try {
    const ballast = join(fs.mountPoint, 'ballast');
    writeFileSync(ballast, Buffer.alloc(BALLAST_MIB * MIB, 1));
    const [pa, pb] = await freePorts(2);
    const A = `127.0.0.1:${String(pa)}`;
    const B = `127.0.0.1:${String(pb)}`;
    const config = writeConfig(
      dir,
      [{ address: A, replicas: [B] }],
      `[storage]\n${storage}\n[replication]\npull_wait_ms = 200\n`,
    );
    await startConfigNode(config, A, join(dir, 'a'), running);
    return { A, B, config, bDir: join(fs.mountPoint, 'b'), ballast, running, fs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** writeValues PUTs the VALUES values of 1 MiB (`big-0`…) at leader `a`, each acknowledged. */
export async function writeValues(a: string): Promise<void> {
  for (let i = 0; i < VALUES; i++) {
    const r = await fetch(`http://${a}/kv/big-${String(i)}`, {
      method: 'PUT',
      body: Buffer.alloc(MIB, i & 0xff),
    });
    assert.equal(r.status, 204, await r.text());
  }
}
