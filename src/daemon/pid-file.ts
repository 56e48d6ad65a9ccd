import { rm } from 'node:fs/promises';
import { writeFileAtomic } from '../state/atomic-file.js';

export async function writePidFile(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  await writeFileAtomic(path, `${process.pid}\n`, 0o644);
}

export async function removePidFile(path: string | undefined): Promise<void> {
  if (path !== undefined) await rm(path, { force: true });
}
