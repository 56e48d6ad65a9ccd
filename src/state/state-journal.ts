/**
 * Appends decisions to the journal (journal-format.ts) and folds it into the snapshot now and then.
 *
 * Group commit: records arriving while a write and fdatasync are in flight are written and synced
 * together by the next one; each caller's promise settles when its own line is on disk.
 *
 * Compaction, in the background when the journals hold more than twice the snapshot's bytes (plus
 * COMPACT_FLOOR_BYTES), in this order, so that a crash between any two steps loses nothing:
 *   1. switch: later records go to a new generation (created at its first record);
 *   2. the snapshot of every pending close recorded so far, naming that generation as its first
 *      journal, replaces pending-closes.json atomically (TrustedDirectory.writeAtomic);
 *   3. the older journals are removed.
 * A load reads the snapshot and replays only the journals from the generation it names: before 2 the
 * old snapshot and every journal are there; after 2 the new snapshot ignores the old journals.
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { APPEND_FLAGS, type TrustedDirectory } from '../trust/open.js';
import { JOURNAL_HEADER, journalFileName, journalLine, replay, type JournalRecord } from './journal-format.js';
import { serializeState, type PendingClose } from './state-format.js';

export const STATE_FILE_NAME = 'pending-closes.json';
/**
 * Added to twice the snapshot's size before compacting. None: while few doors are open a compaction
 * costs about what an append does, and it keeps pending-closes.json current for whoever reads it.
 */
const COMPACT_FLOOR_BYTES = 0;

export type CompactionStep = 'switched' | 'snapshot-written' | 'journals-removed';

export interface JournalOptions {
  /** Where a background compaction's failure is reported (the records stay in the journals). */
  onProblem(error: unknown): void;
  /** Test seam: awaited after each step of a compaction; a crash there is a promise that never settles. */
  compactionStep?(step: CompactionStep): Promise<void>;
}

export interface JournalStart {
  /** Every pending close recorded, in the snapshot then the journals from its generation on. */
  live: Map<string, PendingClose>;
  snapshotBytes: number;
  /** Journal files there are, by generation, with their size. */
  journals: Map<number, number>;
  /** The generation the next record goes to: a new file, never one a crash may have cut short. */
  nextGeneration: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

export class StateJournal {
  private readonly live: Map<string, PendingClose>;
  private snapshotBytes: number;
  private readonly journals: Map<number, number>;
  private generation: number;
  /** The journal of `generation`, once created. */
  private file: FileHandle | undefined;
  private queued: string[] = [];
  private waiters: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private compaction: Promise<void> = Promise.resolve();
  /** Compactions started and not finished. */
  private compacting = 0;
  /** After a failed compaction, the next waits until the journals grew this large. */
  private retryAbove = 0;

  constructor(
    private readonly dir: TrustedDirectory,
    start: JournalStart,
    private readonly options: JournalOptions,
  ) {
    this.live = start.live;
    this.snapshotBytes = start.snapshotBytes;
    this.journals = new Map(start.journals);
    this.generation = start.nextGeneration;
  }

  /** The pending closes recorded so far (written or queued). */
  get size(): number {
    return this.live.size;
  }

  /** Resolves once the record is on disk (with every record appended before it). */
  append(record: JournalRecord): Promise<void> {
    replay(this.live, [record]);
    this.queued.push(journalLine(record));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Every record appended so far is written (or failed). */
  async flushed(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * Compacts now, and resolves when the snapshot is on disk. With `replacement`, the snapshot holds
   * exactly that list (StateStore.save); records appended while this waits come after it.
   */
  async compact(replacement?: readonly PendingClose[]): Promise<void> {
    // The switch must fall between two writes: no await between this check and it.
    do await this.flushed();
    while (this.draining);
    if (replacement) {
      this.live.clear();
      for (const pending of replacement) this.live.set(pending.id, pending);
    }
    await this.startCompaction();
  }

  /** Flushes, folds the journals into the snapshot if there are any, and closes the journal. */
  async close(): Promise<void> {
    do await this.flushed();
    while (this.draining);
    if (this.journals.size > 0) await this.startCompaction().catch((error: unknown) => this.options.onProblem(error));
    await this.compaction;
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private journalBytes(): number {
    let total = 0;
    for (const bytes of this.journals.values()) total += bytes;
    return total;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const text = this.queued.join('');
        const waiters = this.waiters;
        this.queued = [];
        this.waiters = [];
        try {
          await this.write(text);
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
        const bytes = this.journalBytes();
        if (this.compacting === 0 && bytes > 2 * this.snapshotBytes + COMPACT_FLOOR_BYTES && bytes > this.retryAbove) {
          this.startCompaction().catch((error: unknown) => this.options.onProblem(error));
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async write(text: string): Promise<void> {
    const name = journalFileName(this.generation);
    let created = false;
    try {
      if (!this.file) {
        const opened = await this.dir.openChild(name, 'state-file', APPEND_FLAGS | constants.O_EXCL, 0o600);
        if (!opened) throw Object.assign(new Error('the state directory is gone'), { code: 'ENOENT' });
        this.file = opened.handle;
        this.journals.set(this.generation, 0);
        created = true;
        text = `${JOURNAL_HEADER}\n${text}`;
      }
      await this.file.writeFile(text);
      await this.file.datasync();
      // The new name must survive a power loss too, before any record in it counts as saved.
      if (created) await this.dir.sync();
      this.journals.set(this.generation, (this.journals.get(this.generation) ?? 0) + Buffer.byteLength(text));
    } catch (error) {
      // What reached the file is unknown now: the next records go to a new journal, never after a
      // half-written line. A line cut short is ignored at load; whole ones replay harmlessly.
      await this.file?.close().catch(() => undefined);
      this.file = undefined;
      this.generation++;
      if (error instanceof NfknockError && error.code === ErrorCodes.UNTRUSTED) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new NfknockError(ErrorCodes.STATE_IO, `cannot append to ${this.dir.shown(name)} (${code})`, { cause: error });
    }
  }

  /** Steps 1 (now, between two writes) and 2-3 (after the compactions before it). */
  private startCompaction(): Promise<void> {
    if (this.file) {
      const old = this.file;
      this.file = undefined;
      void old.close().catch(() => undefined);
      this.generation++;
    }
    const first = this.generation;
    const text = serializeState([...this.live.values()], first);
    this.compacting++;
    const run = this.compaction.then(() => this.writeSnapshot(text, first));
    this.compaction = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async writeSnapshot(text: string, first: number): Promise<void> {
    const step = this.options.compactionStep ?? (async () => undefined);
    try {
      await step('switched');
      await this.dir.writeAtomic(STATE_FILE_NAME, text, 0o600);
      this.snapshotBytes = Buffer.byteLength(text);
      await step('snapshot-written');
      for (const generation of [...this.journals.keys()].filter((g) => g < first)) {
        await this.dir.unlink(journalFileName(generation)).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        });
        this.journals.delete(generation);
      }
      await step('journals-removed');
      this.retryAbove = 0;
    } catch (error) {
      this.retryAbove = 2 * this.journalBytes();
      throw error;
    } finally {
      this.compacting--;
    }
  }
}
