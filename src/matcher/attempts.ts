import type { Family, KnockEvent, Protocol } from '../core/types.js';
import type { Candidate } from './sequences.js';
import { StageQueue, type StageQueueLinks } from './stage-queue.js';
import { SourceTable, type SourceTableLinks } from './source-table.js';

/**
 * A source's progress: at one door (`group` -1, `doorIndex` the door), or, at stage 1, shared by the
 * doors of a group (`group` its number, `doorIndex` = doors.length + group in the source table).
 */
export interface Attempt extends StageQueueLinks<Attempt>, SourceTableLinks<Attempt> {
  source: string;
  family: Family;
  doorIndex: number;
  group: number;
  /** A shared attempt's doors when not the whole group (some had attempts of their own, or advanced alone). */
  members: readonly number[] | undefined;
  /** Knocks accepted so far (1 after the first knock). */
  stage: number;
  startedAt: number;
  lastPort: number;
  lastProtocol: Protocol;
  /** Sequences still consistent with the knocks so far (several only for time-based doors). */
  candidates: Candidate[];
}

/**
 * The attempts in progress: by (source, door or group) with each source's own list, and by stage in
 * insertion order, so that eviction finds the oldest of the lowest stage.
 */
export class Attempts {
  private readonly bySource: SourceTable<Attempt>;
  private readonly byStage: StageQueue<Attempt>[] = [];
  private held = 0;
  /**
   * The last attempt removed, reused by the next one begun: under a flood every new attempt evicts
   * one, and reusing it spares the young generation an object that would live long enough to be
   * promoted. Nothing keeps a removed attempt (actions copy its fields), so reuse cannot be seen.
   */
  private spare: Attempt | undefined;

  constructor(hashSeed: number) {
    this.bySource = new SourceTable(hashSeed);
  }

  get count(): number {
    return this.held;
  }

  hash(source: string): number {
    return this.bySource.hash(source);
  }

  /** The first of the source's attempts; the others follow through `siblingNext`. */
  head(source: string, hash: number): Attempt | undefined {
    return this.bySource.head(source, hash);
  }

  find(source: string, hash: number, slot: number): Attempt | undefined {
    return this.bySource.find(source, hash, slot);
  }

  /** Every attempt, lowest stage first, oldest first within one; the loop body may remove the one it was given. */
  *all(): IterableIterator<Attempt> {
    for (const bucket of this.byStage) if (bucket) yield* bucket;
  }

  /** The oldest attempt of a stage from 1 to `stage`, lowest first. */
  oldestUpTo(stage: number): Attempt | undefined {
    for (let s = 1; s <= stage && s < this.byStage.length; s++) {
      const bucket = this.byStage[s];
      if (bucket && bucket.size > 0) return bucket.first();
    }
    return undefined;
  }

  /**
   * An attempt of the event's source started at the event, not yet inserted; take it only when it will
   * be inserted. The time is read from the event, not passed: see When in actions.ts.
   */
  fresh(event: KnockEvent, slot: number, stage: number, candidates: Candidate[]): Attempt {
    const startedAt = event.at;
    const attempt = this.spare;
    this.spare = undefined;
    if (attempt) {
      attempt.source = event.source;
      attempt.family = event.family;
      attempt.doorIndex = slot;
      attempt.group = -1;
      attempt.members = undefined;
      attempt.stage = stage;
      attempt.startedAt = startedAt;
      attempt.lastPort = event.port;
      attempt.lastProtocol = event.protocol;
      attempt.candidates = candidates;
      return attempt;
    }
    return {
      source: event.source,
      family: event.family,
      doorIndex: slot,
      group: -1,
      members: undefined,
      stage,
      startedAt,
      lastPort: event.port,
      lastProtocol: event.protocol,
      candidates,
      tableHash: 0,
      tableNext: undefined,
      tabled: false,
      siblingNext: undefined,
      siblingPrev: undefined,
      headNext: undefined,
      // Set up front so every attempt keeps one hidden class when it joins a stage queue.
      queueOlder: undefined,
      queueNewer: undefined,
      queueOwner: undefined,
    };
  }

  /** Callers guarantee that the source has no attempt in this slot yet. */
  insert(attempt: Attempt, hash: number): void {
    this.bySource.add(attempt, hash);
    this.queue(attempt.stage).add(attempt);
    this.held++;
  }

  remove(attempt: Attempt): void {
    this.byStage[attempt.stage]?.delete(attempt);
    this.bySource.delete(attempt);
    this.spare = attempt;
    this.held--;
  }

  /** Moves an attempt to the end of the queue of `stage`. */
  restage(attempt: Attempt, stage: number): void {
    this.byStage[attempt.stage]?.delete(attempt);
    attempt.stage = stage;
    this.queue(stage).add(attempt);
  }

  /** Moves an attempt to another slot (a reload renumbered the doors). */
  renumber(attempt: Attempt, slot: number): void {
    this.bySource.renumber(attempt, slot);
  }

  /** Forgets the spare: after a reload nothing of the old doors may be reused by accident. */
  dropSpare(): void {
    this.spare = undefined;
  }

  private queue(stage: number): StageQueue<Attempt> {
    let queue = this.byStage[stage];
    if (!queue) {
      for (let s = this.byStage.length; s <= stage; s++) this.byStage[s] = new StageQueue();
      queue = this.byStage[stage]!;
    }
    return queue;
  }
}
