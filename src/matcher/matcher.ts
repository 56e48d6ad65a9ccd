import type { Door, Family, KnockEvent, KnockStep, Protocol } from '../core/types.js';
import { SequenceBook, type Candidate } from './sequences.js';
import { StageQueue, type StageQueueLinks } from './stage-queue.js';
import { SourceTable, type SourceTableLinks } from './source-table.js';

/**
 * The knock sequence state machine: one attempt per (source address, door), time injected through the
 * events and `tick(now)`. knockd's semantics, with four deliberate differences:
 *  - the packet that breaks a sequence is re-considered as the first knock of a new attempt;
 *  - an exact repeat of the knock just accepted (a retransmitted SYN) is ignored instead of breaking;
 *  - stale attempts expire on `tick`, not only when the same source sends again;
 *  - the number of attempts is capped; under pressure the attempts that passed fewest stages go first.
 * As in knockd, a TCP packet whose flags do not satisfy the door's TCPFlags, or that was not sent to
 * the door's Target address, is ignored for that door (it neither advances nor breaks an attempt), and
 * seq_timeout runs from the first knock.
 */
export type MatcherAction =
  | { kind: 'stage'; door: Door; source: string; family: Family; stage: number; at: number }
  | { kind: 'broken'; door: Door; source: string; family: Family; stage: number; at: number; port: number; protocol: Protocol }
  | { kind: 'open'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  /** A complete sequence that already opened its door once (time step used, one-time line used). */
  | { kind: 'replay'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  | { kind: 'expire'; door: Door; source: string; family: Family; stage: number; at: number }
  | { kind: 'evict'; door: Door; source: string; family: Family; stage: number; at: number };

export interface MatcherOptions {
  maxAttempts: number;
  onAction: (action: MatcherAction) => void;
  sequences?: SequenceBook;
  /** Seed of the source address hash; the daemon passes a random one (see SourceTable), tests may rely on the fixed default. */
  hashSeed?: number;
}

interface Attempt extends StageQueueLinks<Attempt>, SourceTableLinks<Attempt> {
  source: string;
  family: Family;
  doorIndex: number;
  /** Knocks accepted so far (1 after the first knock). */
  stage: number;
  startedAt: number;
  lastPort: number;
  lastProtocol: Protocol;
  /** Sequences still consistent with the knocks so far (several only for time-based doors). */
  candidates: Candidate[];
}

/** Only for callers that do not care about hash flooding (tests, simulate): the daemon seeds randomly. */
const DEFAULT_HASH_SEED = 0x2545f491;

export class Matcher {
  private doors: readonly Door[];
  private readonly maxAttempts: number;
  private readonly emit: (action: MatcherAction) => void;
  readonly sequences: SequenceBook;
  /** Attempts by (source, door index). */
  private readonly bySource: SourceTable<Attempt>;
  /** Attempts by stage, each in insertion order, so eviction finds the oldest of the lowest stage. */
  private readonly byStage: StageQueue<Attempt>[] = [];
  private count = 0;
  /**
   * The last attempt removed, reused by the next one begun: under a flood every new attempt evicts
   * one, and reusing it spares the young generation an object that would live long enough to be
   * promoted. Nothing keeps a removed attempt (actions copy its fields), so reuse cannot be seen.
   */
  private spare: Attempt | undefined;

  constructor(doors: readonly Door[], options: MatcherOptions) {
    this.doors = doors;
    this.maxAttempts = Math.max(1, options.maxAttempts);
    this.emit = options.onAction;
    this.sequences = options.sequences ?? new SequenceBook();
    this.bySource = new SourceTable(options.hashSeed ?? DEFAULT_HASH_SEED);
  }

  get attemptCount(): number {
    return this.count;
  }

  get currentDoors(): readonly Door[] {
    return this.doors;
  }

  feed(event: KnockEvent): void {
    const doors = this.doors;
    const source = event.source;
    const hash = this.bySource.hash(source);
    for (let index = 0; index < doors.length; index++) {
      const door = doors[index]!;
      if (!flagsSatisfy(door, event)) continue;
      const attempt = this.bySource.find(source, hash, index);
      if (attempt) {
        if (event.at - attempt.startedAt > door.seqTimeoutMs) {
          this.remove(attempt);
          this.emit({ kind: 'expire', door, source: attempt.source, family: attempt.family, stage: attempt.stage, at: event.at });
        } else if (this.advance(attempt, door, event)) {
          continue;
        }
      }
      this.begin(index, door, event, hash);
    }
  }

  /** Expires attempts older than their door's seq_timeout; call it about once a second. */
  tick(now: number): void {
    for (const bucket of this.byStage) {
      if (!bucket) continue;
      for (const attempt of bucket) {
        const door = this.doors[attempt.doorIndex]!;
        if (now - attempt.startedAt <= door.seqTimeoutMs) continue;
        this.remove(attempt);
        this.emit({ kind: 'expire', door, source: attempt.source, family: attempt.family, stage: attempt.stage, at: now });
      }
    }
    this.sequences.prune(this.doors, now);
  }

  /**
   * Swaps in a reloaded configuration. Attempts survive for doors that still exist with the same
   * matching rules (name, sequence, timeout, flags, sequence source); all others are dropped.
   */
  replaceDoors(doors: readonly Door[]): void {
    const newIndexByName = new Map(doors.map((door, index) => [door.name, index]));
    const old = this.doors;
    const survivors: Attempt[] = [];
    for (const bucket of this.byStage) if (bucket) for (const attempt of bucket) survivors.push(attempt);
    this.bySource.clear();
    this.spare = undefined;
    this.byStage.length = 0;
    this.count = 0;
    this.doors = doors;
    for (const attempt of survivors) {
      const newIndex = newIndexByName.get(old[attempt.doorIndex]!.name);
      if (newIndex === undefined || !sameMatching(old[attempt.doorIndex]!, doors[newIndex]!)) continue;
      attempt.doorIndex = newIndex;
      this.insert(attempt, attempt.tableHash);
    }
  }

  /** Returns true when the event was consumed by the attempt (advanced it, or was a retransmission). */
  private advance(attempt: Attempt, door: Door, event: KnockEvent): boolean {
    const stage = attempt.stage;
    const matching = attempt.candidates.filter((candidate) => stepMatches(candidate.steps[stage], event));
    if (matching.length > 0) {
      this.byStage[stage]?.delete(attempt);
      attempt.candidates = matching;
      attempt.stage = stage + 1;
      attempt.lastPort = event.port;
      attempt.lastProtocol = event.protocol;
      const finished = matching.filter((candidate) => candidate.steps.length === attempt.stage);
      if (finished.length > 0) {
        this.dropFromSource(attempt);
        this.count--;
        this.conclude(door, event, finished);
      } else {
        this.bucket(attempt.stage).add(attempt);
        this.emit({ kind: 'stage', door, source: event.source, family: event.family, stage: attempt.stage, at: event.at });
      }
      return true;
    }
    if (event.port === attempt.lastPort && event.protocol === attempt.lastProtocol) return true;
    this.remove(attempt);
    this.emit({
      kind: 'broken',
      door,
      source: event.source,
      family: event.family,
      stage: stage,
      at: event.at,
      port: event.port,
      protocol: event.protocol,
    });
    return false;
  }

  private begin(index: number, door: Door, event: KnockEvent, hash: number): void {
    const candidates = this.sequences.candidates(door, event.at);
    // Runs for every packet of a flood: count first and allocate only when a candidate matches,
    // sharing the book's (never mutated) array when all of them do, as a fixed door's one does.
    let matches = 0;
    let finishes = false;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (!stepMatches(candidate.steps[0], event)) continue;
      matches++;
      if (candidate.steps.length === 1) finishes = true;
    }
    if (matches === 0) return;
    const matching = matches === candidates.length ? candidates : candidates.filter((candidate) => stepMatches(candidate.steps[0], event));
    if (finishes) {
      this.conclude(door, event, matching.filter((candidate) => candidate.steps.length === 1));
      return;
    }
    if (this.count >= this.maxAttempts && !this.evictFor(1, event.at)) {
      this.emit({ kind: 'evict', door, source: event.source, family: event.family, stage: 0, at: event.at });
      return;
    }
    // Taken only now: an action handler may have run in between.
    let attempt = this.spare;
    this.spare = undefined;
    if (attempt) {
      attempt.source = event.source;
      attempt.family = event.family;
      attempt.doorIndex = index;
      attempt.stage = 1;
      attempt.startedAt = event.at;
      attempt.lastPort = event.port;
      attempt.lastProtocol = event.protocol;
      attempt.candidates = matching;
    } else {
      attempt = {
        source: event.source,
        family: event.family,
        doorIndex: index,
        stage: 1,
        startedAt: event.at,
        lastPort: event.port,
        lastProtocol: event.protocol,
        candidates: matching,
        tableHash: hash,
        tableNext: undefined,
        tabled: false,
        // Set up front so every attempt keeps one hidden class when it joins a stage queue.
        queueOlder: undefined,
        queueNewer: undefined,
        queueOwner: undefined,
      };
    }
    this.insert(attempt, hash);
    this.emit({ kind: 'stage', door, source: event.source, family: event.family, stage: 1, at: event.at });
  }

  /** A sequence was completed: open with the first still-usable one, or refuse it as a replay. */
  private conclude(door: Door, event: KnockEvent, finished: Candidate[]): void {
    const usable = finished.find((candidate) => this.sequences.isAvailable(door, candidate));
    if (usable) {
      this.sequences.consume(door, usable);
      this.emit({ kind: 'open', door, source: event.source, family: event.family, at: event.at, sequence: usable });
    } else {
      this.emit({ kind: 'replay', door, source: event.source, family: event.family, at: event.at, sequence: finished[0]! });
    }
  }

  /** Makes room for an attempt at `stage` by evicting the oldest attempt of a stage no higher. */
  private evictFor(stage: number, at: number): boolean {
    for (let s = 1; s <= stage && s < this.byStage.length; s++) {
      const bucket = this.byStage[s];
      if (!bucket || bucket.size === 0) continue;
      const victim = bucket.first() as Attempt;
      this.remove(victim);
      this.emit({ kind: 'evict', door: this.doors[victim.doorIndex]!, source: victim.source, family: victim.family, stage: victim.stage, at });
      return true;
    }
    return false;
  }

  /** Callers guarantee that the source has no attempt for this door yet. */
  private insert(attempt: Attempt, hash: number): void {
    this.bySource.add(attempt, hash);
    this.bucket(attempt.stage).add(attempt);
    this.count++;
  }

  private remove(attempt: Attempt): void {
    this.byStage[attempt.stage]?.delete(attempt);
    this.dropFromSource(attempt);
    this.count--;
  }

  private dropFromSource(attempt: Attempt): void {
    this.bySource.delete(attempt);
    this.spare = attempt;
  }

  private bucket(stage: number): StageQueue<Attempt> {
    let bucket = this.byStage[stage];
    if (!bucket) {
      for (let s = this.byStage.length; s <= stage; s++) this.byStage[s] = new StageQueue();
      bucket = this.byStage[stage]!;
    }
    return bucket;
  }
}

function stepMatches(step: KnockStep | undefined, event: KnockEvent): boolean {
  return step !== undefined && step.port === event.port && step.protocol === event.protocol;
}

/** Packets a door ignores outright, as knockd does: wrong TCP flags, or not sent to the door's Target. */
function flagsSatisfy(door: Door, event: KnockEvent): boolean {
  if (door.target !== undefined && event.destination !== door.target) return false;
  if (event.protocol !== 'tcp') return true;
  const { required, forbidden } = door.tcpFlags;
  return (event.tcpFlags & required) === required && (event.tcpFlags & forbidden) === 0;
}

function sameMatching(a: Door, b: Door): boolean {
  return matchingFingerprint(a) === matchingFingerprint(b);
}

/** Everything that decides whether a knock advances an attempt; commands and targets do not. */
function matchingFingerprint(door: Door): string {
  const time = door.timeSequence;
  return JSON.stringify([
    door.steps,
    door.seqTimeoutMs,
    door.tcpFlags.required,
    door.tcpFlags.forbidden,
    door.oneTimeFile ?? null,
    time ? [time.secretFile ?? null, time.secret ? Buffer.from(time.secret).toString('hex') : null, time.length, time.portMin, time.portMax, time.periodSeconds, time.protocols] : null,
  ]);
}
