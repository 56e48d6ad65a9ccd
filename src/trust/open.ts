/**
 * The one way nfknockd opens what it trusts (policy in ./policy.ts). Node has no openat(), so a
 * directory is opened once (O_DIRECTORY|O_NOFOLLOW, fstat, ancestors checked from `/` down) and
 * everything after goes through /proc/self/fd/<dirfd>/<name>: the kernel resolves that to the
 * directory we checked, whatever is renamed or symlinked at its path meanwhile. Files are opened
 * with O_NOFOLLOW and judged by fstat on the descriptor, never by a stat of the path.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, open, readdir, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { allowsForeignAncestors, allowsGroupWritableAncestors, ancestorsOf, describeKind, describeTrustProblem, judgeAncestor, judgeOpened, type TrustKind, type TrustProblem } from './policy.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_DIRECTORY, O_APPEND } = constants;
/** A FIFO or device must not hang the open; the fstat after it refuses them. */
export const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
export const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY;
/** Suffix of temp files, so that a store can clean up the ones a crash left behind. */
export const TEMP_MARKER = '.nfknock-tmp-';

export function daemonUid(): number {
  return process.geteuid?.() ?? 0;
}

export function untrusted(problem: TrustProblem, cause?: unknown): NfknockError {
  return new NfknockError(problem.wrongType ? ErrorCodes.CONFIG_READ : ErrorCodes.UNTRUSTED, describeTrustProblem(problem), { location: { file: problem.path }, ...(cause === undefined ? {} : { cause }) });
}

function ioError(code: typeof ErrorCodes.STATE_IO | typeof ErrorCodes.CONFIG_READ, message: string, error: unknown, path: string): NfknockError {
  if (error instanceof NfknockError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
  return new NfknockError(code, `${message} (${errno})`, { cause: error, location: { file: path } });
}

/**
 * Every directory from `/` to `dir` (itself included), lstat()ed: a symlink on the way is followed
 * only if its owner is trusted, and then the directories it leads to are checked too.
 */
export async function checkAncestors(dir: string, allowGroupWrite = false): Promise<void> {
  const uid = daemonUid();
  let sawLink = false;
  for (const path of [...ancestorsOf(`${dir}/x`)]) {
    const stats = await lstat(path);
    const problem = judgeAncestor(path, stats, uid, allowGroupWrite);
    if (problem) throw untrusted(problem);
    if (stats.isSymbolicLink()) sawLink = true;
  }
  if (!sawLink) return;
  for (const path of ancestorsOf(`${await realpath(dir)}/x`)) {
    const problem = judgeAncestor(path, await lstat(path), uid, allowGroupWrite);
    if (problem) throw untrusted(problem);
  }
}

export interface OpenedFile {
  handle: FileHandle;
  stats: Stats;
}

/** A directory held open; names below it are reached through its descriptor, never its path again. */
export class TrustedDirectory {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Opens `path` as a directory whose content the daemon trusts: every ancestor checked, the
   * directory itself too (as `kind`, or as an ancestor of a file of kind `forFile` when no kind is given).
   */
  static async open(path: string, kind?: TrustKind, forFile?: TrustKind): Promise<TrustedDirectory> {
    const groupWrite = allowsGroupWritableAncestors(forFile);
    if (!allowsForeignAncestors(forFile)) await checkAncestors(dirname(path) === path ? path : dirname(path), groupWrite);
    const handle = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw untrusted({ path, problem: `${path} is not a directory (or is a symbolic link)`, fix: 'use the real directory' }, error);
      }
      throw error;
    });
    try {
      const stats = await handle.stat();
      const problem = kind ? judgeOpened(path, kind, stats, daemonUid()) : judgeAncestor(path, stats, daemonUid(), groupWrite);
      if (problem) throw untrusted(problem);
      return new TrustedDirectory(path, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Opens the directory that holds `file`, a file of kind `kind`. */
  static parentOf(file: string, kind?: TrustKind): Promise<TrustedDirectory> {
    return TrustedDirectory.open(dirname(file), undefined, kind);
  }

  /** The kernel's path to `name` inside the directory we opened. */
  at(name: string): string {
    if (name.includes('/') || name === '' || name === '.' || name === '..') throw new NfknockError(ErrorCodes.INTERNAL, `not a plain file name: ${JSON.stringify(name)}`);
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  shown(name: string): string {
    return this.path.endsWith('/') ? `${this.path}${name}` : `${this.path}/${name}`;
  }

  /** Opens a child without following a symlink, fstat()s it and applies `kind`'s rule; undefined when absent. */
  async openChild(name: string, kind: TrustKind, flags = READ_FLAGS, mode = 0o600): Promise<OpenedFile | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.at(name), flags | O_NOFOLLOW | O_NOCTTY, mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') throw untrusted({ path: this.shown(name), problem: `${describeKind(kind)} ${this.shown(name)} is a symbolic link`, fix: 'point the setting at the real file' }, error);
      throw error;
    }
    try {
      const stats = await handle.stat();
      const problem = judgeOpened(this.shown(name), kind, stats, daemonUid());
      if (problem) throw untrusted(problem);
      return { handle, stats };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The whole content of a trusted child, or undefined when it does not exist. */
  async readChild(name: string, kind: TrustKind, maxBytes: number): Promise<{ bytes: Buffer; stats: Stats } | undefined> {
    const opened = await this.openChild(name, kind);
    if (!opened) return undefined;
    try {
      if (opened.stats.size > maxBytes) throw new NfknockError(ErrorCodes.CONFIG_READ, `${describeKind(kind)} ${this.shown(name)} is larger than ${maxBytes} bytes`);
      return { bytes: await opened.handle.readFile(), stats: opened.stats };
    } finally {
      await opened.handle.close();
    }
  }

  /**
   * Replaces `name` so that after a crash it holds the old or the new content, never a mix: a temp
   * file created O_EXCL in this directory, written, fsynced, renamed over, the directory fsynced.
   */
  async writeAtomic(name: string, data: string | Uint8Array, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
    const temp = `.${name}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
    let step = 'create a temp file in';
    try {
      const handle = await open(this.at(temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, mode);
      try {
        step = 'write';
        // open()'s mode is filtered by the umask; the caller's mode is what it asked for.
        await handle.chmod(mode);
        if (owner) await handle.chown(owner.uid, owner.gid);
        await handle.writeFile(data);
        step = 'fsync';
        await handle.sync();
      } finally {
        await handle.close();
      }
      step = 'rename over';
      await rename(this.at(temp), this.at(name));
      step = 'fsync the directory of';
      await this.handle.sync();
    } catch (error) {
      await unlink(this.at(temp)).catch(() => undefined);
      throw ioError(ErrorCodes.STATE_IO, `cannot ${step} ${this.shown(name)}`, error, this.shown(name));
    }
  }

  /** fsync of the directory itself: makes a name created or removed in it durable. */
  sync(): Promise<void> {
    return this.handle.sync();
  }

  /** Rejects when this process cannot create files in the directory. */
  checkWritable(): Promise<void> {
    return access(`/proc/self/fd/${this.handle.fd}`, constants.W_OK | constants.X_OK);
  }

  names(): Promise<string[]> {
    return readdir(`/proc/self/fd/${this.handle.fd}`);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(this.at(from), this.at(to));
  }

  unlink(name: string): Promise<void> {
    return unlink(this.at(name));
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Runs `use` with the trusted directory holding `file`, and closes it after. */
export async function inParentOf<T>(file: string, use: (dir: TrustedDirectory, name: string) => Promise<T>, kind?: TrustKind): Promise<T> {
  const dir = await TrustedDirectory.parentOf(file, kind);
  try {
    return await use(dir, basename(file));
  } finally {
    await dir.close();
  }
}

/**
 * Opens a file the daemon trusts (ancestors, O_NOFOLLOW, fstat, owner and mode), reads it whole.
 * Absent: NFK_CONFIG_READ with ENOENT, like any unreadable file.
 */
export async function readTrustedFile(path: string, kind: TrustKind, maxBytes: number): Promise<{ bytes: Buffer; stats: Stats }> {
  const read = await inParentOf(path, (dir, name) => dir.readChild(name, kind, maxBytes), kind);
  if (!read) throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read ${describeKind(kind)} ${path}: ENOENT (no such file)`, { location: { file: path } });
  return read;
}

/** Opens a trusted file (read-only unless `flags` say otherwise); undefined when it does not exist. */
export function openTrustedFile(path: string, kind: TrustKind, flags = READ_FLAGS, mode = 0o600): Promise<OpenedFile | undefined> {
  return inParentOf(path, (dir, name) => dir.openChild(name, kind, flags, mode), kind);
}

/** Replaces a file in a trusted directory atomically, without following a symlink at its name. */
export function writeTrustedFileAtomic(path: string, data: string | Uint8Array, mode: number, kind?: TrustKind): Promise<void> {
  return inParentOf(path, (dir, name) => dir.writeAtomic(name, data, mode), kind).catch((error: unknown) => {
    throw ioError(ErrorCodes.STATE_IO, `cannot write ${path}`, error, path);
  });
}
