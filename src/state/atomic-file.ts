/**
 * Replaces a file so that after a crash or power loss it holds either the old or the new content,
 * never a mix: temp file in the same directory, write, fsync, rename over, fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';

export interface AtomicWriteOptions {
  /** Give the new file this owner (e.g. to keep a one-time sequence file's owner). Root only. */
  owner?: { uid: number; gid: number };
}

/** Suffix of temp files, so that a store can clean up the ones a crash left behind. */
export const TEMP_MARKER = '.nfknock-tmp-';

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, options: AtomicWriteOptions = {}): Promise<void> {
  const directory = dirname(path);
  const temp = join(directory, `.${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`);
  let step = 'create a temp file in';
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      step = 'write';
      // open()'s mode is filtered by the umask; the caller's mode is what it asked for.
      await handle.chmod(mode);
      if (options.owner) await handle.chown(options.owner.uid, options.owner.gid);
      await handle.writeFile(data);
      step = 'fsync';
      await handle.sync();
    } finally {
      await handle.close();
    }
    step = 'rename over';
    await rename(temp, path);
    step = 'fsync the directory of';
    await syncDirectory(directory);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.STATE_IO, `cannot ${step} ${path} (${code})`, { cause: error, location: { file: path } });
  }
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
