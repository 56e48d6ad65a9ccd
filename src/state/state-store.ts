/**
 * The daemon's one state store, in the state directory (default /var/lib/nfknock): the pending closes
 * (pending-closes.json, format in state-format.ts) and the used time steps (time-steps.json), both
 * read and written only through the directory opened and checked once (src/trust/).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { TEMP_MARKER, TrustedDirectory } from '../trust/open.js';
import { parseUsedSteps, serializeState, serializeUsedSteps, type PendingClose } from './state-format.js';
import { parseStateLeniently } from './state-salvage.js';

export type { PendingClose } from './state-format.js';

export const STATE_FILE_NAME = 'pending-closes.json';
export const USED_STEPS_FILE_NAME = 'time-steps.json';
/** Far above any real state (64 KiB per command); stops a wrong file from being slurped. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

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
  /** Opened and checked once; every later read and rename goes through it, never the path again. */
  private directory: TrustedDirectory | undefined;
  /** What time-steps.json holds: every open saves, the used steps change only when a time-based door opens. */
  private usedStepsWritten: string | undefined;
  readonly usedStepsFile: string;

  constructor(
    readonly dir: string,
    private readonly options: StateStoreOptions = {},
  ) {
    this.file = join(dir, STATE_FILE_NAME);
    this.usedStepsFile = join(dir, USED_STEPS_FILE_NAME);
  }

  /**
   * Reads the pending closes. A state file that cannot be read or parsed is renamed aside to
   * `<name>.corrupt-<epoch>` and reported; records that fail validation are reported and skipped (and the
   * file is copied aside too, so the evidence survives the next save). Never throws for a bad file;
   * throws NFK_STATE_IO when the directory cannot be created or written, NFK_PERMISSION when others
   * could write to it (its commands would then not be trustworthy).
   */
  async load(): Promise<LoadedState> {
    const dir = await this.prepareDirectory();
    await this.removeStaleTempFiles(dir);
    const closes = await this.loadPendingCloses(dir);
    const usedSteps = await this.loadUsedSteps(dir, closes.problems);
    return { pending: closes.pending, usedSteps, problems: closes.problems };
  }

  private async loadPendingCloses(dir: TrustedDirectory): Promise<{ pending: PendingClose[]; problems: string[] }> {
    let text: string;
    try {
      const read = await dir.readChild(STATE_FILE_NAME, 'state-file', MAX_STATE_BYTES);
      if (!read) return { pending: [], problems: [] };
      text = read.bytes.toString('utf8');
    } catch (error) {
      if (error instanceof NfknockError && error.code === ErrorCodes.UNTRUSTED) throw error;
      const why = error instanceof NfknockError ? error.message : ((error as NodeJS.ErrnoException).code ?? String(error));
      const aside = await this.moveAside();
      return { pending: [], problems: [`cannot read ${this.file} (${why})${aside}`] };
    }
    const parsed = parseStateLeniently(text);
    if (parsed.problems.length === 0) return { pending: parsed.pending, problems: [] };
    // A file with some good records is copied, not moved: until the next save it is still their only copy.
    const aside = parsed.readable ? await this.copyAside(text) : await this.moveAside();
    const prefix = parsed.readable ? `${this.file}: skipped a pending close` : `${this.file} is unusable`;
    return { pending: parsed.pending, problems: parsed.problems.map((p) => `${prefix}: ${p}${aside}`) };
  }

  /** A missing or broken file costs at most one replay of a time-based sequence within its step. */
  private async loadUsedSteps(dir: TrustedDirectory, problems: string[]): Promise<Map<string, number[]>> {
    let text: string;
    try {
      const read = await dir.readChild(USED_STEPS_FILE_NAME, 'state-file', MAX_STATE_BYTES);
      if (!read) return new Map();
      text = read.bytes.toString('utf8');
    } catch (error) {
      if (error instanceof NfknockError && error.code === ErrorCodes.UNTRUSTED) throw error;
      const why = error instanceof NfknockError ? error.message : ((error as NodeJS.ErrnoException).code ?? String(error));
      problems.push(`cannot read the used time steps ${this.usedStepsFile} (${why})`);
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
    await (await this.prepareDirectory()).writeAtomic(USED_STEPS_FILE_NAME, text, 0o600);
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
      await (await this.prepareDirectory()).writeAtomic(STATE_FILE_NAME, serializeState(pending), 0o600);
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

  /** The state directory, created 0700 if missing, opened once and checked (src/trust/). */
  private async prepareDirectory(): Promise<TrustedDirectory> {
    if (this.directory) return this.directory;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw stateIo(`cannot create the state directory ${this.dir}`, error);
    }
    let directory: TrustedDirectory;
    try {
      directory = await TrustedDirectory.open(this.dir, 'state-dir');
    } catch (error) {
      if (error instanceof NfknockError) throw error;
      throw stateIo(`cannot open the state directory ${this.dir}`, error);
    }
    try {
      await directory.checkWritable();
    } catch (error) {
      await directory.close();
      throw stateIo(`the state directory ${this.dir} is not writable`, error);
    }
    this.directory = directory;
    return directory;
  }

  /** Closes the directory descriptor; a later load or save opens and checks it again. */
  async close(): Promise<void> {
    const dir = this.directory;
    this.directory = undefined;
    await dir?.close();
  }

  private async removeStaleTempFiles(dir: TrustedDirectory): Promise<void> {
    const names = await dir.names().catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.includes(TEMP_MARKER)).map((n) => dir.unlink(n).catch(() => undefined)));
  }

  private asideName(): string {
    return `${STATE_FILE_NAME}.corrupt-${(this.options.now ?? Date.now)()}`;
  }

  private async copyAside(text: string): Promise<string> {
    const target = this.asideName();
    try {
      await (await this.prepareDirectory()).writeAtomic(target, text, 0o600);
      return `; the file was copied to ${join(this.dir, target)}`;
    } catch (error) {
      return `; could not copy it aside (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }

  /** Returns a sentence fragment for the problem report. */
  private async moveAside(): Promise<string> {
    const target = this.asideName();
    try {
      await (await this.prepareDirectory()).rename(STATE_FILE_NAME, target);
      return `; moved aside to ${join(this.dir, target)}`;
    } catch (error) {
      return `; could not move it aside (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }
}

function stateIo(message: string, cause?: unknown): NfknockError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new NfknockError(ErrorCodes.STATE_IO, code ? `${message} (${code})` : message, cause === undefined ? undefined : { cause });
}
