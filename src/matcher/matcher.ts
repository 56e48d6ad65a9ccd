import type { Door, Family, KnockEvent, Protocol } from '../core/types.js';
import type { MatcherAction } from './actions.js';
import { SequenceBook, type Candidate } from './sequences.js';
import { StageQueue, type StageQueueLinks } from './stage-queue.js';
import { SourceTable, type SourceTableLinks } from './source-table.js';
import { DoorIndex } from './door-index.js';
import { matchingFingerprint } from './fingerprint.js';
import { ActionMaker, type When } from './actions.js';
import { flagsSatisfy, narrowed, stepMatches } from './matching.js';

export type { MatcherAction } from './actions.js';

export interface MatcherOptions {
  maxAttempts: number;
  onAction: (action: MatcherAction) => void;
  sequences?: SequenceBook;
  /** Seed of the source address hash; the daemon passes a random one (see SourceTable), tests may rely on the fixed default. */
  hashSeed?: number;
  /**
   * Hand `onAction` the same object for every action of a kind, refilled each time, instead of a new
   * one: for a handler that uses the action before it returns and keeps none of it (the daemon's).
   */
  reuseActions?: boolean;
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
export class Matcher {
  private doors: readonly Door[];
  private readonly maxAttempts: number;
  private readonly emit: (action: MatcherAction) => void;
  private readonly actions: ActionMaker;
  readonly sequences: SequenceBook;
  /** Doors by the knock their sequences start with: a packet visits those and its source's attempts, no others. */
  private index: DoorIndex;
  /** Attempts by (source, door index), and each source's attempts. */
  private readonly bySource: SourceTable<Attempt>;
  /** Attempts by stage, each in insertion order, so eviction finds the oldest of the lowest stage. */
  private readonly byStage: StageQueue<Attempt>[] = [];
  private count = 0;
  /** The door indices of the source's attempts, collected for one event (reused: feed is not re-entrant). */
  private ownDoors = new Int32Array(64);
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
    this.actions = new ActionMaker(options.reuseActions ?? false, doors[0]);
    this.sequences = options.sequences ?? new SequenceBook();
    this.index = new DoorIndex(doors, this.sequences);
    this.sequences.onOneTimeChange((doorName) => this.index.oneTimeChanged(doorName));
    this.bySource = new SourceTable(options.hashSeed ?? DEFAULT_HASH_SEED);
  }

  get attemptCount(): number {
    return this.count;
  }

  get currentDoors(): readonly Door[] {
    return this.doors;
  }

  /**
   * Visits, in door order, the doors this knock can start and the doors its source has attempts for:
   * what visiting every door would do, since any other door neither begins nor holds an attempt.
   */
  feed(event: KnockEvent): void {
    const index = this.index;
    index.prepare(event);
    const starting = index.startingWith(event.protocol, event.port);
    const source = event.source;
    const hash = this.bySource.hash(source);
    const head = this.bySource.head(source, hash);
    if (head === undefined) {
      for (let i = 0; i < starting.length; i++) this.visit(starting[i]!, event, hash);
      return;
    }
    const own = this.collectOwnDoors(head);
    const ownDoors = this.ownDoors;
    let i = 0;
    let j = 0;
    while (i < starting.length || j < own) {
      const next = i < starting.length ? starting[i]! : Infinity;
      const mine = j < own ? ownDoors[j]! : Infinity;
      const doorIndex = next <= mine ? next : mine;
      if (next === doorIndex) i++;
      if (mine === doorIndex) j++;
      this.visit(doorIndex, event, hash);
    }
  }

  /** Expires attempts older than their door's seq_timeout; call it about once a second. */
  tick(now: number): void {
    const clock: When = { at: now };
    for (const bucket of this.byStage) {
      if (!bucket) continue;
      for (const attempt of bucket) {
        const door = this.doors[attempt.doorIndex]!;
        if (now - attempt.startedAt <= door.seqTimeoutMs) continue;
        this.remove(attempt);
        this.emit(this.actions.ended('expire', door, attempt.source, attempt.family, attempt.stage, clock));
      }
    }
    this.sequences.prune(this.doors, now);
  }

  /**
   * Swaps in a reloaded configuration. Attempts survive for doors that still exist with the same
   * matching rules (name, sequence, timeout, flags, sequence source); all others are dropped. Doors
   * are compared once each; an attempt costs a look-up in the renumbering, and a rehash only when
   * its door moved.
   */
  replaceDoors(doors: readonly Door[]): void {
    const newIndexByName = new Map(doors.map((door, index) => [door.name, index]));
    const old = this.doors;
    const renumbered = new Int32Array(old.length).fill(-1);
    let unchanged = old.length === doors.length;
    for (let index = 0; index < old.length; index++) {
      const newIndex = newIndexByName.get(old[index]!.name);
      if (newIndex !== undefined && (old[index] === doors[newIndex] || matchingFingerprint(old[index]!) === matchingFingerprint(doors[newIndex]!))) {
        renumbered[index] = newIndex;
      }
      if (renumbered[index] !== index) unchanged = false;
    }
    this.spare = undefined;
    this.doors = doors;
    this.index = new DoorIndex(doors, this.sequences);
    if (unchanged) return;
    for (const bucket of this.byStage) {
      if (!bucket) continue;
      for (const attempt of bucket) {
        const newIndex = renumbered[attempt.doorIndex]!;
        if (newIndex < 0) this.remove(attempt);
        else if (newIndex !== attempt.doorIndex) this.bySource.renumber(attempt, newIndex);
      }
    }
    this.spare = undefined;
  }

  /** The source's door indices into `ownDoors`, ascending; returns how many. */
  private collectOwnDoors(head: Attempt): number {
    let count = 0;
    let sorted = true;
    for (let attempt: Attempt | undefined = head; attempt !== undefined; attempt = attempt.siblingNext) {
      if (count === this.ownDoors.length) {
        const larger = new Int32Array(count * 2);
        larger.set(this.ownDoors);
        this.ownDoors = larger;
      }
      if (count > 0 && this.ownDoors[count - 1]! > attempt.doorIndex) sorted = false;
      this.ownDoors[count++] = attempt.doorIndex;
    }
    if (!sorted) this.ownDoors.subarray(0, count).sort();
    return count;
  }

  /** One door for one event: exactly what the loop over every door did for it. */
  private visit(index: number, event: KnockEvent, hash: number): void {
    const door = this.doors[index]!;
    if (!flagsSatisfy(door, event)) return;
    const attempt = this.bySource.find(event.source, hash, index);
    if (attempt) {
      if (event.at - attempt.startedAt > door.seqTimeoutMs) {
        this.remove(attempt);
        this.emit(this.actions.ended('expire', door, attempt.source, attempt.family, attempt.stage, event));
      } else if (this.advance(attempt, door, event)) {
        return;
      }
    }
    this.begin(index, door, event, hash);
  }

  /** Returns true when the event was consumed by the attempt (advanced it, or was a retransmission). */
  private advance(attempt: Attempt, door: Door, event: KnockEvent): boolean {
    const stage = attempt.stage;
    const candidates = attempt.candidates;
    let matches = 0;
    for (let i = 0; i < candidates.length; i++) if (stepMatches(candidates[i]!.steps[stage], event)) matches++;
    if (matches > 0) {
      // Shares the array while every candidate still matches (always, for fixed and one-time doors).
      const matching = matches === candidates.length ? candidates : narrowed(candidates, stage, event, matches);
      this.byStage[stage]?.delete(attempt);
      attempt.candidates = matching;
      attempt.stage = stage + 1;
      attempt.lastPort = event.port;
      attempt.lastProtocol = event.protocol;
      let finishes = false;
      for (let i = 0; i < matching.length; i++) if (matching[i]!.steps.length === attempt.stage) finishes = true;
      if (finishes) {
        this.dropFromSource(attempt);
        this.count--;
        this.conclude(door, event, matching.filter((candidate) => candidate.steps.length === attempt.stage));
      } else {
        this.bucket(attempt.stage).add(attempt);
        this.emit(this.actions.stage(door, event.source, event.family, attempt.stage, event));
      }
      return true;
    }
    if (event.port === attempt.lastPort && event.protocol === attempt.lastProtocol) return true;
    this.remove(attempt);
    this.emit(this.actions.broken(door, event.source, event.family, stage, event, event.port, event.protocol));
    return false;
  }

  private begin(index: number, door: Door, event: KnockEvent, hash: number): void {
    const candidates = this.index.candidatesOf(index);
    // Runs for every packet of a flood: count first and allocate only when a candidate matches,
    // sharing the book's (never mutated) array when all of them do, as a fixed door's one does.
    let matches = 0;
    let finishes = false;
    let only = 0;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (!stepMatches(candidate.steps[0], event)) continue;
      matches++;
      only = i;
      if (candidate.steps.length === 1) finishes = true;
    }
    if (matches === 0) return;
    const matching = matches === candidates.length ? candidates : matches === 1 ? this.index.singleOf(index, only) : narrowed(candidates, 0, event, matches);
    if (finishes) {
      this.conclude(door, event, matching.filter((candidate) => candidate.steps.length === 1));
      return;
    }
    if (this.count >= this.maxAttempts && !this.evictFor(1, event)) {
      this.emit(this.actions.ended('evict', door, event.source, event.family, 0, event));
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
        siblingNext: undefined,
        siblingPrev: undefined,
        headNext: undefined,
        // Set up front so every attempt keeps one hidden class when it joins a stage queue.
        queueOlder: undefined,
        queueNewer: undefined,
        queueOwner: undefined,
      };
    }
    this.insert(attempt, hash);
    this.emit(this.actions.stage(door, event.source, event.family, 1, event));
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
  private evictFor(stage: number, when: When): boolean {
    for (let s = 1; s <= stage && s < this.byStage.length; s++) {
      const bucket = this.byStage[s];
      if (!bucket || bucket.size === 0) continue;
      const victim = bucket.first() as Attempt;
      this.remove(victim);
      this.emit(this.actions.ended('evict', this.doors[victim.doorIndex]!, victim.source, victim.family, victim.stage, when));
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
