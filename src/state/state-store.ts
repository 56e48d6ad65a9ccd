/**
 * The daemon's one state store, in the state directory (default /var/lib/nfknock): the pending closes
 * (pending-closes.json, format in state-format.ts) and the used time steps (time-steps.json).
 */
import { access, chmod, constants, copyFile, mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { TEMP_MARKER, writeFileAtomic } from './atomic-file.js';
import { parseState, parseUsedSteps, serializeState, serializeUsedSteps, type PendingClose } from './state-format.js';

export type { PendingClose } from './state-format.js';

export const STATE_FILE_NAME = 'pending-closes.json';
export const USED_STEPS_FILE_NAME = 'time-steps.json';

export interface LoadedState {
  pending: PendingClose[];
  /** Time steps that already opened each time-based door. */
  usedSteps: Map<string, number[]>;
  /** Each problem names what was lost, so the daemon can log it at error level and the operator can act. */
  problems: string[];
}

export interface StateStoreOptions {
  /** Injected in tests; the daemon uses the real clock for `.corrupt-<epoch>` names. */
  now?: () => number;
}

export class StateStore {
  readonly file: string;
  private writing: Promise<void> | undefined;
  private nextPending: readonly PendingClose[] | undefined;
  private nextWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  /** What time-steps.json holds: every open saves, the used steps change only when a time-based door opens. */
  private usedStepsWritten: string | undefined;

  constructor(
    readonly dir: string,
    private readonly options: StateStoreOptions = {},
  ) {
    this.file = join(dir, STATE_FILE_NAME);
    this.usedStepsFile = join(dir, USED_STEPS_FILE_NAME);
  }

  readonly usedStepsFile: string;

  /**
   * Reads the pending closes. A state file that cannot be read or parsed is renamed aside to
   * `<name>.corrupt-<epoch>` and reported; records that fail validation are reported and skipped (and the
   * file is copied aside too, so the evidence survives the next save). Never throws for a bad file;
   * throws NFK_STATE_IO when the directory cannot be created or written, NFK_PERMISSION when others
   * could write to it (its commands would then not be trustworthy).
   */
  async load(): Promise<LoadedState> {
    await this.prepareDirectory();
    await this.removeStaleTempFiles();
    const closes = await this.loadPendingCloses();
    const usedSteps = await this.loadUsedSteps(closes.problems);
    return { pending: closes.pending, usedSteps, problems: closes.problems };
  }

  private async loadPendingCloses(): Promise<{ pending: PendingClose[]; problems: string[] }> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { pending: [], problems: [] };
      const aside = await this.moveAside();
      return { pending: [], problems: [`cannot read ${this.file} (${code ?? String(error)})${aside}`] };
    }
    const parsed = parseState(text);
    if (parsed.problems.length === 0) return { pending: parsed.pending, problems: [] };
    // A file with some good records is copied, not moved: until the next save it is still their only copy.
    const aside = parsed.readable ? await this.copyAside() : await this.moveAside();
    const prefix = parsed.readable ? `${this.file}: skipped a pending close` : `${this.file} is unusable`;
    return { pending: parsed.pending, problems: parsed.problems.map((p) => `${prefix}: ${p}${aside}`) };
  }

  /** A missing or broken file costs at most one replay of a time-based sequence within its step. */
  private async loadUsedSteps(problems: string[]): Promise<Map<string, number[]>> {
    let text: string;
    try {
      text = await readFile(this.usedStepsFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') problems.push(`cannot read the used time steps ${this.usedStepsFile} (${code ?? String(error)})`);
      return new Map();
    }
    try {
      const usedSteps = parseUsedSteps(text);
      this.usedStepsWritten = serializeUsedSteps(usedSteps);
      return usedSteps;
    } catch (error) {
      problems.push(`the used time steps file ${this.usedStepsFile} is corrupt (${(error as Error).message}); time-based sequences of the current step may be replayed once`);
      return new Map();
    }
  }

  /**
   * Saves the pending closes and, when given and changed since the last write, the used time steps.
   * The pending closes are on disk before the used steps are written.
   */
  async saveState(state: { pending: readonly PendingClose[]; usedSteps?: ReadonlyMap<string, readonly number[]> }): Promise<void> {
    await this.save(state.pending);
    if (state.usedSteps === undefined) return;
    const text = serializeUsedSteps(state.usedSteps);
    if (text === (this.usedStepsWritten ?? serializeUsedSteps(new Map()))) return;
    await writeFileAtomic(this.usedStepsFile, text, 0o600);
    this.usedStepsWritten = text;
  }

  /**
   * Replaces the file atomically. Saves never interleave: while one is being written, later calls are
   * coalesced into a single following write of the newest list, and each call resolves once a write
   * containing its list (or a newer one) is on disk.
   */
  save(pending: readonly PendingClose[]): Promise<void> {
    const snapshot = pending.map((p) => ({ ...p }));
    if (!this.writing) {
      this.writing = this.writeNow(snapshot);
      return this.writing;
    }
    this.nextPending = snapshot;
    return new Promise((resolve, reject) => this.nextWaiters.push({ resolve, reject }));
  }

  private async writeNow(pending: readonly PendingClose[]): Promise<void> {
    try {
      await writeFileAtomic(this.file, serializeState(pending), 0o600);
    } finally {
      this.startQueuedWrite();
    }
  }

  private startQueuedWrite(): void {
    const pending = this.nextPending;
    const waiters = this.nextWaiters;
    this.nextPending = undefined;
    this.nextWaiters = [];
    if (!pending) {
      this.writing = undefined;
      return;
    }
    this.writing = this.writeNow(pending);
    this.writing.then(
      () => waiters.forEach((w) => w.resolve()),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  }

  private async prepareDirectory(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw stateIo(`cannot create the state directory ${this.dir}`, error);
    }
    let info;
    try {
      info = await stat(this.dir);
    } catch (error) {
      throw stateIo(`cannot examine the state directory ${this.dir}`, error);
    }
    if (!info.isDirectory()) throw stateIo(`the state directory ${this.dir} is not a directory`);
    const euid = process.geteuid?.();
    if (euid !== undefined && info.uid !== euid) {
      throw new NfknockError(
        ErrorCodes.PERMISSION,
        `the state directory ${this.dir} is owned by uid ${info.uid}, not by this daemon (uid ${euid}); its stop commands cannot be trusted`,
        { location: { file: this.dir } },
      );
    }
    if ((info.mode & 0o022) !== 0) {
      throw new NfknockError(
        ErrorCodes.PERMISSION,
        `the state directory ${this.dir} is writable by group or others (mode ${(info.mode & 0o777).toString(8)}); its stop commands cannot be trusted: chmod 700 it`,
        { location: { file: this.dir } },
      );
    }
    if ((info.mode & 0o077) !== 0) await chmod(this.dir, 0o700).catch(() => undefined);
    try {
      await access(this.dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw stateIo(`the state directory ${this.dir} is not writable`, error);
    }
  }

  private async removeStaleTempFiles(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.includes(TEMP_MARKER)).map((n) => unlink(join(this.dir, n)).catch(() => undefined)));
  }

  private asideName(): string {
    return `${this.file}.corrupt-${(this.options.now ?? Date.now)()}`;
  }

  private async copyAside(): Promise<string> {
    const target = this.asideName();
    try {
      await copyFile(this.file, target);
      return `; the file was copied to ${target}`;
    } catch (error) {
      return `; could not copy it aside (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }

  /** Returns a sentence fragment for the problem report. */
  private async moveAside(): Promise<string> {
    const target = this.asideName();
    try {
      await rename(this.file, target);
      return `; moved aside to ${target}`;
    } catch (error) {
      return `; could not move it aside (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }
}

function stateIo(message: string, cause?: unknown): NfknockError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new NfknockError(ErrorCodes.STATE_IO, code ? `${message} (${code})` : message, cause === undefined ? undefined : { cause });
}
