/**
 * A small real filesystem for disk-full tests: an ext4 image mounted through a loop device.
 * Needs root and loop devices; `loopFsUnavailable()` says why not when they are missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** loopFsUnavailable returns why a loop-mounted filesystem cannot be made here, or undefined. */
export function loopFsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'loop mounts need Linux';
  if (process.getuid?.() !== 0) return 'loop mounts need root';
  if (spawnSync('mkfs.ext4', ['-V']).error !== undefined) return 'mkfs.ext4 is not installed';
  if (spawnSync('losetup', ['-f']).status !== 0) return 'no free loop device';
  return undefined;
}

/** LoopFs is a mounted image; `unmount()` removes it. */
export interface LoopFs {
  mountPoint: string;
  unmount(): void;
}

/** mountLoopFs creates a `megabytes` MiB ext4 image in `dir` and mounts it at `dir/mnt`. */
export function mountLoopFs(dir: string, megabytes: number): LoopFs {
  const image = join(dir, 'disk.img');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('truncate', ['-s', `${megabytes}M`, image]);
  execFileSync('mkfs.ext4', ['-q', '-m', '0', image]);
  execFileSync('mount', ['-o', 'loop', image, mountPoint]);
  return {
    mountPoint,
    unmount: () => {
      spawnSync('umount', [mountPoint]);
      rmSync(image, { force: true });
    },
  };
}

/**
 * mountReadOnly bind-mounts `dir` read-only at `dir/../<name>-ro` (needs root, as loop mounts do)
 * and returns the mount point and how to unmount it.
 */
export function mountReadOnly(dir: string): LoopFs {
  const mountPoint = `${dir}-ro`;
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('mount', ['--bind', dir, mountPoint]);
  try {
    execFileSync('mount', ['-o', 'remount,ro,bind', mountPoint]);
  } catch (err) {
    spawnSync('umount', [mountPoint]);
    throw err;
  }
  return {
    mountPoint,
    unmount: () => {
      spawnSync('umount', [mountPoint]);
    },
  };
}
