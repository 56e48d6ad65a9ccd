/**
 * Replaces a file so that after a crash or power loss it holds either the old or the new content,
 * never a mix: temp file in the same directory, write, fsync, rename over, fsync the directory.
 * The directory is opened and checked once and the writes go through its descriptor
 * (src/trust/open.ts), so a symlink swapped in at the path is never followed.
 */
import { writeTrustedFileAtomic } from '../trust/open.js';

export interface AtomicWriteOptions {
  /** Public figures (metrics): the directories above the file's own may belong to others (src/trust/policy.ts). */
  published?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, options: AtomicWriteOptions = {}): Promise<void> {
  await writeTrustedFileAtomic(path, data, mode, options.published ? 'published-file' : undefined);
}
