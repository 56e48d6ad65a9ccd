/**
 * The daemon's one state store, in the state directory (default /var/lib/nfknock): the pending closes
 * (the snapshot pending-closes.json, format in state-format.ts, and the journals of what changed
 * since, journal-format.ts, written by state-journal.ts) and the used time steps (time-steps.json),
 * all read and written only through the directory opened and checked once (src/trust/).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { TEMP_MARKER, TrustedDirectory } from '../trust/open.js';
import { parseUsedSteps, serializeUsedSteps, type PendingClose } from './state-format.js';
import { parseStateLeniently } from './state-salvage.js';
import { journalFileName, journalGeneration, parseJournal, replay, type JournalRecord } from './journal-format.js';
import { STATE_FILE_NAME, StateJournal, type CompactionStep } from './state-journal.js';

export type { PendingClose } from './state-format.js';
export type { JournalRecord } from './journal-format.js';
export { STATE_FILE_NAME } from './state-journal.js';

export const USED_STEPS_FILE_NAME = 'time-steps.json';
/** Far above any real state (64 KiB per command); stops a wrong file from being slurped. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

export interface LoadedState {
  pending: PendingClose[];
  /** Time steps that already opened each time-based door. */
  usedSteps: Map<string, number[]>;
  /** Each problem names what was lost, so the daemon can log it at error level and the operator can act. */
  problems: string[];
  /** Harmless findings worth a line in the log (a journal line cut short by a crash mid-append). */
  notices?: string[];
}

export interface StateStoreOptions {
  /** Injected in tests; the daemon uses the real clock for `.corrupt-<epoch>` names. */
  now?: () => number;
  /** A background compaction failed (nothing is lost: the journals stay until one succeeds). */
  onProblem?: (error: unknown) => void;
  /** Test seam, see JournalOptions.compactionStep. */
  compactionStep?: (step: CompactionStep) => Promise<void>;
}

interface LoadedSnapshot {
  pending: PendingClose[];
  problems: string[];
  /** The first journal generation on top of it. */
  first: number;
  bytes: number;
}

export class StateStore {
  readonly file: string;
  readonly usedStepsFile: string;
  /** Opened and checked once; every later read and rename goes through it, never the path again. */
  private directory: TrustedDirectory | undefined;
  private journal: Promise<StateJournal> | undefined;
  /** Closed at exit: a decision still in flight then must fail, not load the state again. */
  private closed = false;
  /** What time-steps.json holds: it is written only when a time-based door opened. */
  private usedStepsWritten: string | undefined;
  private usedStepsWanted: string | undefined;
  private usedStepsWriting: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly options: StateStoreOptions = {},
  ) {
    this.file = join(dir, STATE_FILE_NAME);
    this.usedStepsFile = join(dir, USED_STEPS_FILE_NAME);
  }

  /**
   * Reads the pending closes: the snapshot, then the journals on top of it. A file that cannot be read
   * or parsed is renamed aside to `<name>.corrupt-<epoch>` and reported; records that fail validation
   * are reported and skipped (and the file is copied aside too, so the evidence survives the next
   * compaction). Never throws for a bad file; throws NFK_STATE_IO when the directory cannot be created
   * or written, NFK_PERMISSION when others could write to it (its commands would then not be trustworthy).
   */
  async load(): Promise<LoadedState> {
    this.closed = false;
    const dir = await this.prepareDirectory();
    await this.removeStaleTempFiles(dir);
    const snapshot = await this.loadSnapshot(dir);
    const live = new Map(snapshot.pending.map((pending) => [pending.id, pending]));
    const problems = snapshot.problems;
    const notices: string[] = [];
    const journals = new Map<number, number>();
    const generations = (await dir.names()).map(journalGeneration).filter((g): g is number => g !== undefined).sort((a, b) => a - b);
    for (const generation of generations) {
      // Older than the snapshot: already in it, removed by the next compaction.
      journals.set(generation, generation < snapshot.first ? 0 : await this.replayJournal(dir, generation, live, problems, notices));
    }
    const nextGeneration = Math.max(snapshot.first, (generations.at(-1) ?? 0) + 1);
    const start = { live, snapshotBytes: snapshot.bytes, journals, nextGeneration };
    this.journal = Promise.resolve(new StateJournal(dir, start, { onProblem: this.options.onProblem ?? (() => undefined), ...(this.options.compactionStep ? { compactionStep: this.options.compactionStep } : {}) }));
    const usedSteps = await this.loadUsedSteps(dir, problems);
    return { pending: [...live.values()], usedSteps, problems, ...(notices.length > 0 ? { notices } : {}) };
  }

  private async loadSnapshot(dir: TrustedDirectory): Promise<LoadedSnapshot> {
    const empty = { pending: [], problems: [], first: 0, bytes: 0 };
    const text = await this.readOrMoveAside(dir, STATE_FILE_NAME, this.file);
    if (typeof text !== 'string') return text ? { ...empty, problems: [text.problem] } : empty;
    const parsed = parseStateLeniently(text);
    const loaded = { pending: parsed.pending, problems: [], first: parsed.journal ?? 0, bytes: Buffer.byteLength(text) };
    if (parsed.problems.length === 0) return loaded;
    // A file with some good records is copied, not moved: until the next compaction it is still their only copy.
    const aside = parsed.readable ? await this.copyAside(STATE_FILE_NAME, text) : await this.moveAside(STATE_FILE_NAME);
    const prefix = parsed.readable ? `${this.file}: skipped a pending close` : `${this.file} is unusable`;
    return { ...loaded, problems: parsed.problems.map((p) => `${prefix}: ${p}${aside}`) };
  }

  /** Applies one journal to `live`; returns its size. */
  private async replayJournal(dir: TrustedDirectory, generation: number, live: Map<string, PendingClose>, problems: string[], notices: string[]): Promise<number> {
    const name = journalFileName(generation);
    const shown = join(this.dir, name);
    const text = await this.readOrMoveAside(dir, name, shown);
    if (typeof text !== 'string') {
      if (text) problems.push(text.problem);
      return 0;
    }
    const parsed = parseJournal(text);
    if (parsed.torn) notices.push(`${shown}: ${parsed.torn}`);
    if (!parsed.readable) {
      const aside = await this.moveAside(name);
      problems.push(...parsed.problems.map((p) => `${shown} is unusable: ${p}${aside}`));
      return 0;
    }
    replay(live, parsed.records);
    if (parsed.problems.length > 0) {
      const aside = await this.copyAside(name, text);
      problems.push(...parsed.problems.map((p) => `${shown}: skipped a record: ${p}${aside}`));
    }
    return Buffer.byteLength(text);
  }

  /** The text of a state file; undefined when absent; a problem when unreadable (then moved aside). */
  private async readOrMoveAside(dir: TrustedDirectory, name: string, shown: string): Promise<string | { problem: string } | undefined> {
    try {
      const read = await dir.readChild(name, 'state-file', MAX_STATE_BYTES);
      return read?.bytes.toString('utf8');
    } catch (error) {
      if (error instanceof NfknockError && error.code === ErrorCodes.UNTRUSTED) throw error;
      const why = error instanceof NfknockError ? error.message : ((error as NodeJS.ErrnoException).code ?? String(error));
      return { problem: `cannot read ${shown} (${why})${await this.moveAside(name)}` };
    }
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
   * Records one decision: a door opened or its pending close changed (`{ opened }`), or its stop
   * command ran (`{ closed: id }`). O(1) bytes; resolves once the record is on disk, together with
   * the records that arrived while the previous write was in flight (group commit).
   */
  record(change: JournalRecord): Promise<void> {
    return this.opened().then((journal) => journal.append(change));
  }

  /** The journal, loading the state first if nothing did (tools and tests may save without a load). */
  private opened(): Promise<StateJournal> {
    if (this.closed) return Promise.reject(stateIo(`the state store of ${this.dir} is closed`));
    this.journal ??= this.load().then(() => this.journal as Promise<StateJournal>);
    return this.journal;
  }

  /** Writes time-steps.json if `usedSteps` differ from what it holds; later calls coalesce. */
  saveUsedSteps(usedSteps: ReadonlyMap<string, readonly number[]>): Promise<void> {
    this.usedStepsWanted = serializeUsedSteps(usedSteps);
    const write = this.usedStepsWriting.then(async () => {
      const wanted = this.usedStepsWanted as string;
      if (wanted === (this.usedStepsWritten ?? serializeUsedSteps(new Map()))) return;
      await (await this.prepareDirectory()).writeAtomic(USED_STEPS_FILE_NAME, wanted, 0o600);
      this.usedStepsWritten = wanted;
    });
    this.usedStepsWriting = write.catch(() => undefined);
    return write;
  }

  /** Replaces every pending close with `pending` (and writes the used steps if given and changed). */
  async saveState(state: { pending: readonly PendingClose[]; usedSteps?: ReadonlyMap<string, readonly number[]> }): Promise<void> {
    await this.save(state.pending);
    if (state.usedSteps !== undefined) await this.saveUsedSteps(state.usedSteps);
  }

  /**
   * Replaces every pending close with `pending`: a compaction with that list as the snapshot (O(n):
   * for tools and tests; the daemon records each decision). Resolves once the snapshot is on disk.
   */
  save(pending: readonly PendingClose[]): Promise<void> {
    const snapshot = pending.map((p) => ({ ...p }));
    return this.opened().then((journal) => journal.compact(snapshot));
  }

  /** Folds the journals into the snapshot now; resolves once it is on disk. */
  compact(): Promise<void> {
    return this.opened().then((journal) => journal.compact());
  }

  /** Every record so far is on disk (or failed). */
  async flushed(): Promise<void> {
    await (await this.journal)?.flushed();
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

  /**
   * Writes what is queued, folds the journals into the snapshot (so that the file is whole whenever
   * no daemon runs) and closes the directory. Records after it are refused (a decision still in
   * flight at exit); a later load opens and checks the directory again.
   */
  async close(): Promise<void> {
    const journal = await this.journal?.catch(() => undefined);
    this.journal = undefined;
    this.closed = true;
    await journal?.close();
    await this.usedStepsWriting;
    const dir = this.directory;
    this.directory = undefined;
    await dir?.close();
  }

  private async removeStaleTempFiles(dir: TrustedDirectory): Promise<void> {
    const names = await dir.names().catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.includes(TEMP_MARKER)).map((n) => dir.unlink(n).catch(() => undefined)));
  }

  private asideName(name: string): string {
    return `${name}.corrupt-${(this.options.now ?? Date.now)()}`;
  }

  private async copyAside(name: string, text: string): Promise<string> {
    const target = this.asideName(name);
    try {
      await (await this.prepareDirectory()).writeAtomic(target, text, 0o600);
      return `; the file was copied to ${join(this.dir, target)}`;
    } catch (error) {
      return `; could not copy it aside (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }

  /** Returns a sentence fragment for the problem report. */
  private async moveAside(name: string): Promise<string> {
    const target = this.asideName(name);
    try {
      await (await this.prepareDirectory()).rename(name, target);
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
