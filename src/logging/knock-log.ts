/**
 * Edge for the user-facing log: knockd's LogFile (the syslog writer is in syslog-writer.ts).
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { NfknockError, ErrorCodes } from '../core/errors.js';
import { dirname } from 'node:path';
import { APPEND_FLAGS, checkAncestors, daemonUid, untrusted } from '../trust/open.js';
import { allowsGroupWritableAncestors, judgeOpened } from '../trust/policy.js';
import { logFileLine, type UtcOffsetAt } from './knockd-format.js';
import type { Logger } from './logger.js';

/** The host's local time, as knockd's localtime(3) would use it (honours TZ). */
export const systemUtcOffset: UtcOffsetAt = (epochMs) => -new Date(epochMs).getTimezoneOffset();

export interface KnockLogOptions {
  logger: Logger;
  /** Mode of a newly created file; knockd leaves it to the umask, nfknock keeps the audit trail private. */
  mode?: number;
  offsetAt?: UtcOffsetAt;
}

/**
 * knockd's LogFile: append-only, one line per event, written synchronously so that lines keep their
 * order and none is held in a buffer when the daemon stops. Writes never throw: a log that cannot be
 * written must not stop doors from opening and closing, so failures become pino warnings.
 */
export class KnockLog {
  private fd: number | undefined;
  private filePath: string | undefined;
  private failing = false;
  private lostLines = 0;
  private readonly mode: number;
  private readonly offsetAt: UtcOffsetAt;

  constructor(private readonly options: KnockLogOptions) {
    this.mode = options.mode ?? 0o640;
    this.offsetAt = options.offsetAt ?? systemUtcOffset;
  }

  get path(): string | undefined {
    return this.filePath;
  }

  /** Opens (creating if needed) the file; without a path the log is off and writes are ignored. */
  async open(path?: string): Promise<void> {
    this.adopt(await this.prepare(path));
  }

  /**
   * Opens and checks `path` without switching to it, so that a reload can open everything it needs
   * first and switch only when all of it worked (`adopt`), or drop it (`discard`).
   */
  async prepare(path?: string): Promise<PreparedKnockLog> {
    if (path === undefined) return { path: undefined, fd: undefined };
    // A missing directory is reported by the open below, with the path and errno.
    await checkAncestors(dirname(path), allowsGroupWritableAncestors('log-file')).catch((error: unknown) => {
      if (error instanceof NfknockError) throw error;
    });
    return { path, fd: openAppend(path, this.mode) };
  }

  adopt(prepared: PreparedKnockLog): void {
    this.closeFd();
    this.filePath = prepared.path;
    this.fd = prepared.fd;
    this.failing = false;
  }

  discard(prepared: PreparedKnockLog): void {
    if (prepared.fd !== undefined) closeSync(prepared.fd);
  }

  /** Writes one line (a newline is added when missing). */
  write(line: string): void {
    if (this.filePath === undefined) return;
    const text = line.endsWith('\n') ? line : `${line}\n`;
    try {
      if (this.fd === undefined || fstatSync(this.fd).nlink === 0) this.recreate();
      writeSync(this.fd as number, text);
      if (this.failing) {
        this.options.logger.warn({ path: this.filePath, lostLines: this.lostLines }, 'knock log writable again');
        this.failing = false;
        this.lostLines = 0;
      }
    } catch (error) {
      this.lostLines++;
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn({ path: this.filePath, err: error }, 'cannot write the knock log; lines are lost until it works again');
      }
    }
  }

  /** Formats a knockd-style message with its `[YYYY-MM-DD HH:MM]` stamp and writes it. */
  writeMessage(epochMs: number, message: string): void {
    if (this.filePath === undefined) return;
    this.write(logFileLine(epochMs, this.offsetAt, message));
  }

  /** For logrotate (SIGHUP): closes and opens the path again, creating the file if it was moved away. */
  async reopen(): Promise<void> {
    if (this.filePath === undefined) return;
    this.adopt(await this.prepare(this.filePath));
  }

  async close(): Promise<void> {
    this.closeFd();
    this.filePath = undefined;
  }

  private recreate(): void {
    const path = this.filePath as string;
    if (this.fd !== undefined) {
      this.options.logger.warn({ path }, 'knock log file was deleted; re-creating it');
    }
    this.closeFd();
    this.fd = openAppend(path, this.mode);
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing useful to do: the descriptor is gone either way.
    }
    this.fd = undefined;
  }
}

/** Never follows a symlink at the path (whoever can write its directory could aim it anywhere). */
function openAppend(path: string, mode: number): number {
  let fd: number;
  try {
    fd = openSync(path, APPEND_FLAGS, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw untrusted({ path, problem: `LogFile ${path} is a symbolic link`, fix: 'point LogFile at the real file' }, error);
    const permission = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
    throw new NfknockError(
      permission ? ErrorCodes.PERMISSION : ErrorCodes.CONFIG_INVALID,
      `cannot open the log file ${path} for appending (${code ?? String(error)})`,
      { cause: error, location: { text: path } },
    );
  }
  const problem = judgeOpened(path, 'log-file', fstatSync(fd), daemonUid());
  if (problem) {
    closeSync(fd);
    throw untrusted(problem);
  }
  return fd;
}

export interface PreparedKnockLog {
  path: string | undefined;
  fd: number | undefined;
}
