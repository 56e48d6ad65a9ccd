import type { Door, KnockEvent } from '../core/types.js';
import type { MatcherAction } from './actions.js';
import { SequenceBook, type Candidate } from './sequences.js';
import { Attempts, type Attempt } from './attempts.js';
import { DoorIndex } from './door-index.js';
import { DoorGroups, doorsBrokenBy, intersection, stepKey, without } from './door-groups.js';
import { carryOver, renumbering } from './reload.js';
import { ActionMaker, type When } from './actions.js';
import { doorsAt, endingAt, flagsSatisfy, narrowed, stepMatches } from './matching.js';

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

/** Only for callers that do not care about hash flooding (tests, simulate): the daemon seeds randomly. */
const DEFAULT_HASH_SEED = 0x2545f491;

const NONE: readonly number[] = [];
const NO_DOORS: readonly Door[] = [];

/**
 * The knock sequence state machine: one attempt per (source address, door), time injected through the
 * events and `tick(now)`; the doors of a group (`DoorGroups`: same first knock, flags, Target and
 * seq_timeout) share their first stage, one attempt for all of them, reported by one action naming
 * them all (`doors`). Each door sees exactly what it would see alone. knockd's semantics, with four
 * deliberate differences:
 *  - the packet that breaks a sequence is re-considered as the first knock of a new attempt;
 *  - an exact repeat of the knock just accepted (a retransmitted SYN) is ignored instead of breaking;
 *  - stale attempts expire on `tick`, not only when the same source sends again;
 *  - the number of attempts is capped; under pressure the attempts that passed fewest stages go first.
 *    A shared first stage counts as one attempt (see docs/architecture.md).
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
  private groups: DoorGroups;
  /** `[door]` for each door: the `doors` of its own attempts' actions. */
  private singletons: (readonly Door[])[];
  private readonly attempts: Attempts;
  /** The visit keys of the source's attempts, collected for one event (reused: feed is not re-entrant). */
  private visitKeys = new Int32Array(64);
  /**
   * Which grouped doors' own attempts took the current packet (advanced, opened, or ignored it as a
   * retransmission), by packet number: those do not begin again in their group for it.
   */
  private packet = 0;
  /** The current packet's source held no attempt when it came: none of a group's doors has one of its own. */
  private sourceWasNew = false;
  private tookPacket: Int32Array;
  private groupTookPacket: Int32Array;

  constructor(doors: readonly Door[], options: MatcherOptions) {
    this.doors = doors;
    this.maxAttempts = Math.max(1, options.maxAttempts);
    this.emit = options.onAction;
    this.actions = new ActionMaker(options.reuseActions ?? false, doors[0]);
    this.sequences = options.sequences ?? new SequenceBook();
    this.groups = new DoorGroups(doors);
    this.tookPacket = new Int32Array(doors.length);
    this.groupTookPacket = new Int32Array(this.groups.list.length);
    this.singletons = doors.map((door) => [door]);
    this.index = new DoorIndex(doors, this.sequences, this.groups);
    this.sequences.onOneTimeChange((doorName) => this.index.oneTimeChanged(doorName));
    this.attempts = new Attempts(options.hashSeed ?? DEFAULT_HASH_SEED);
  }

  get attemptCount(): number {
    return this.attempts.count;
  }

  get currentDoors(): readonly Door[] {
    return this.doors;
  }

  /** (source, door) pairs in progress, a shared attempt counting each of its doors: a walk of every attempt, for tests. */
  get doorAttemptCount(): number {
    let pairs = 0;
    for (const attempt of this.attempts.all()) pairs += this.doorsOf(attempt).length;
    return pairs;
  }

  /**
   * Visits, in door order, the doors this knock can start and the doors its source has attempts for:
   * what visiting every door would do, since any other door neither begins nor holds an attempt.
   */
  feed(event: KnockEvent): void {
    const index = this.index;
    index.prepare(event);
    if (++this.packet === 0x3fffffff) this.renumberPackets();
    const starting = index.startingWith(event.protocol, event.port);
    const source = event.source;
    const hash = this.attempts.hash(source);
    const head = this.attempts.head(source, hash);
    const groupAt = this.groups.groupAt;
    this.sourceWasNew = head === undefined;
    if (head === undefined) {
      for (let i = 0; i < starting.length; i++) {
        const doorIndex = starting[i]!;
        const group = groupAt[doorIndex]!;
        if (group >= 0) this.visitGroup(group, event, hash);
        else this.visit(doorIndex, event, hash);
      }
      return;
    }
    // Visits are keyed 2 * index for a door, 2 * index + 1 for a group (listed at its highest member):
    // a group after its members' own attempts, so that a member whose attempt this packet ends can
    // begin in the shared one; never an attempt begun by this packet.
    const own = this.collectVisits(head);
    const visits = this.visitKeys;
    let i = 0;
    let j = 0;
    while (i < starting.length || j < own) {
      const startingAt = i < starting.length ? starting[i]! : -1;
      const next = startingAt < 0 ? Infinity : groupAt[startingAt]! >= 0 ? 2 * startingAt + 1 : 2 * startingAt;
      const mine = j < own ? visits[j]! : Infinity;
      const key = next <= mine ? next : mine;
      if (next === key) i++;
      if (mine === key) j++;
      const doorIndex = key >> 1;
      if ((key & 1) === 1) this.visitGroup(groupAt[doorIndex]!, event, hash);
      else this.visit(doorIndex, event, hash);
    }
  }

  /** Expires attempts older than their door's seq_timeout; call it about once a second. */
  tick(now: number): void {
    const clock: When = { at: now };
    for (const attempt of this.attempts.all()) {
      const timeout = attempt.group < 0 ? this.doors[attempt.doorIndex]!.seqTimeoutMs : this.groups.list[attempt.group]!.seqTimeoutMs;
      if (now - attempt.startedAt <= timeout) continue;
      const doors = this.doorsOf(attempt);
      this.attempts.remove(attempt);
      this.emit(this.actions.ended('expire', doors, attempt.source, attempt.family, attempt.stage, clock));
    }
    this.sequences.prune(this.doors, now);
  }

  /**
   * Swaps in a reloaded configuration. Attempts survive for doors that still exist with the same
   * matching rules (name, sequence, timeout, flags, Target, sequence source), a shared first stage
   * for those of its doors that do; all others are dropped. Doors
   * are compared once each; an attempt costs a look-up in the renumbering, and a rehash only when
   * its door moved.
   */
  replaceDoors(doors: readonly Door[]): void {
    const renumbered = renumbering(this.doors, doors);
    const oldGroups = this.groups;
    this.attempts.dropSpare();
    this.doors = doors;
    this.groups = new DoorGroups(doors);
    this.tookPacket = new Int32Array(doors.length);
    this.groupTookPacket = new Int32Array(this.groups.list.length);
    this.singletons = doors.map((door) => [door]);
    this.index = new DoorIndex(doors, this.sequences, this.groups);
    if (renumbered) carryOver(this.attempts, renumbered, oldGroups, this.groups, doors.length, (index) => this.index.candidatesOf(index));
  }

  /** The visit keys (see feed) of the source's attempts into `visitKeys`, ascending; returns how many. */
  private collectVisits(head: Attempt): number {
    let count = 0;
    let sorted = true;
    for (let attempt: Attempt | undefined = head; attempt !== undefined; attempt = attempt.siblingNext) {
      if (count === this.visitKeys.length) {
        const larger = new Int32Array(count * 2);
        larger.set(this.visitKeys);
        this.visitKeys = larger;
      }
      const at = attempt.group < 0 ? 2 * attempt.doorIndex : 2 * this.groups.list[attempt.group]!.indices.at(-1)! + 1;
      if (count > 0 && this.visitKeys[count - 1]! > at) sorted = false;
      this.visitKeys[count++] = at;
    }
    if (!sorted) this.visitKeys.subarray(0, count).sort();
    return count;
  }

  /**
   * One door for one event: exactly what the loop over every door did for it. A grouped door begins
   * in its group, visited after it.
   */
  private visit(index: number, event: KnockEvent, hash: number): void {
    const door = this.doors[index]!;
    if (!flagsSatisfy(door, event)) return;
    const attempt = this.attempts.find(event.source, hash, index);
    if (attempt) {
      if (event.at - attempt.startedAt > door.seqTimeoutMs) {
        this.attempts.remove(attempt);
        this.emit(this.actions.ended('expire', this.singletons[index]!, attempt.source, attempt.family, attempt.stage, event));
      } else if (this.advance(attempt, door, event)) {
        const group = this.groups.groupOf[index]!;
        if (group >= 0) {
          this.tookPacket[index] = this.packet;
          this.groupTookPacket[group] = this.packet;
        }
        return;
      }
    }
    if (!this.groups.grouped(index)) this.begin(index, door, event, hash);
  }

  /** A group for one event: what visiting each member for its first stage would do. */
  private visitGroup(g: number, event: KnockEvent, hash: number): void {
    const group = this.groups.list[g]!;
    if (!flagsSatisfy(group.doors[0]!, event)) return;
    const shared = this.attempts.find(event.source, hash, this.doors.length + g);
    if (shared) {
      if (event.at - shared.startedAt <= group.seqTimeoutMs) return this.fanOut(shared, g, event, hash);
      const doors = this.doorsOf(shared);
      this.attempts.remove(shared);
      this.emit(this.actions.ended('expire', doors, shared.source, shared.family, 1, event));
    }
    if (event.port !== group.port || event.protocol !== group.protocol) return;
    const members = this.stateless(g, event.source, hash, undefined);
    if (members.length === 0) return;
    const doors = members === group.indices ? group.doors : doorsAt(this.doors, members);
    if (this.attempts.count >= this.maxAttempts && !this.evictFor(1, event)) {
      this.emit(this.actions.ended('evict', doors, event.source, event.family, 0, event));
      return;
    }
    const attempt = this.attempts.fresh(event, this.doors.length + g, 1, this.index.candidatesOf(group.indices[0]!));
    attempt.group = g;
    attempt.members = members === group.indices ? undefined : members;
    this.attempts.insert(attempt, hash);
    this.emit(this.actions.stage(doors, event.source, event.family, 1, event));
  }

  /**
   * A knock after a shared first stage: members whose second step it is advance on their own; the
   * others ignore a repeat of the first knock and break on anything else (reported first).
   */
  private fanOut(shared: Attempt, g: number, event: KnockEvent, hash: number): void {
    const group = this.groups.list[g]!;
    const before = shared.members ?? group.indices;
    const key = stepKey(event.protocol, event.port);
    const second = group.bySecond.get(key) ?? NONE;
    const advancing = second.length === 0 || shared.members === undefined ? second : intersection(second, before);
    const startedAt = shared.startedAt;
    const repeat = event.port === group.port && event.protocol === group.protocol;
    if (repeat && advancing.length === 0 && shared.members === undefined) return;
    const staying = repeat ? without(before, advancing) : NONE;
    // `advancing` is a subset of `before`.
    let brokenDoors: readonly Door[] = NO_DOORS;
    if (!repeat && advancing.length < before.length) {
      brokenDoors = shared.members === undefined ? doorsBrokenBy(group, key, advancing) : doorsAt(this.doors, without(before, advancing));
    }
    if (staying.length === 0) this.attempts.remove(shared);
    else if (staying !== before) shared.members = staying;
    if (brokenDoors.length > 0) this.emit(this.actions.broken(brokenDoors, event.source, event.family, 1, event, event.port, event.protocol));
    for (let i = 0; i < advancing.length; i++) this.advanceAlone(advancing[i]!, startedAt, event, hash);
    // Members with no attempt at all (their own ended earlier) begin now, as they would alone.
    if (repeat && before !== group.indices) for (const index of this.stateless(g, event.source, hash, before)) this.begin(index, this.doors[index]!, event, hash);
  }

  /** A member leaves its group's shared first stage for stage 2 (or opens). */
  private advanceAlone(index: number, startedAt: number, event: KnockEvent, hash: number): void {
    const door = this.doors[index]!;
    const candidates = this.index.candidatesOf(index);
    if (door.steps.length === 2) return this.conclude(door, event, candidates);
    if (this.attempts.count >= this.maxAttempts && !this.evictFor(1, event)) {
      this.emit(this.actions.ended('evict', this.singletons[index]!, event.source, event.family, 1, event));
      return;
    }
    const attempt = this.attempts.fresh(event, index, 2, candidates);
    attempt.startedAt = startedAt;
    this.attempts.insert(attempt, hash);
    this.emit(this.actions.stage(this.singletons[index]!, event.source, event.family, 2, event));
  }

  /**
   * The group's members that hold no attempt of this source, neither their own nor in the shared one
   * (`shared`, its members), and whose own attempt did not take this packet: those that begin in the
   * group. The whole group, shared, when the source holds none of the group's.
   */
  private stateless(g: number, source: string, hash: number, shared: readonly number[] | undefined): readonly number[] {
    const all = this.groups.list[g]!.indices;
    if (this.sourceWasNew) return shared === undefined ? all : without(all, shared);
    let own = this.groupTookPacket[g] === this.packet;
    for (let attempt = this.attempts.head(source, hash); attempt !== undefined; attempt = attempt.siblingNext) {
      if (attempt.group < 0 && this.groups.groupOf[attempt.doorIndex] === g) own = true;
    }
    if (!own) return shared === undefined ? all : without(all, shared);
    const out: number[] = [];
    let j = 0;
    for (const index of all) {
      while (shared !== undefined && j < shared.length && shared[j]! < index) j++;
      if (shared !== undefined && shared[j] === index) continue;
      if (this.tookPacket[index] !== this.packet && this.attempts.find(source, hash, index) === undefined) out.push(index);
    }
    return out;
  }

  private renumberPackets(): void {
    this.packet = 1;
    this.tookPacket.fill(0);
    this.groupTookPacket.fill(0);
  }

  /** The doors an attempt's actions name. */
  private doorsOf(attempt: Attempt): readonly Door[] {
    if (attempt.group < 0) return this.singletons[attempt.doorIndex]!;
    const members = attempt.members;
    return members === undefined ? this.groups.list[attempt.group]!.doors : doorsAt(this.doors, members);
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
      const next = stage + 1;
      let finishes = false;
      for (let i = 0; i < matching.length; i++) if (matching[i]!.steps.length === next) finishes = true;
      if (finishes) {
        this.attempts.remove(attempt);
        this.conclude(door, event, endingAt(matching, next));
        return true;
      }
      attempt.candidates = matching;
      attempt.lastPort = event.port;
      attempt.lastProtocol = event.protocol;
      this.attempts.restage(attempt, next);
      this.emit(this.actions.stage(this.singletons[attempt.doorIndex]!, event.source, event.family, next, event));
      return true;
    }
    if (event.port === attempt.lastPort && event.protocol === attempt.lastProtocol) return true;
    this.attempts.remove(attempt);
    this.emit(this.actions.broken(this.singletons[attempt.doorIndex]!, event.source, event.family, stage, event, event.port, event.protocol));
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
    if (this.attempts.count >= this.maxAttempts && !this.evictFor(1, event)) {
      this.emit(this.actions.ended('evict', this.singletons[index]!, event.source, event.family, 0, event));
      return;
    }
    this.attempts.insert(this.attempts.fresh(event, index, 1, matching), hash);
    this.emit(this.actions.stage(this.singletons[index]!, event.source, event.family, 1, event));
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
    const victim = this.attempts.oldestUpTo(stage);
    if (!victim) return false;
    const doors = this.doorsOf(victim);
    this.attempts.remove(victim);
    this.emit(this.actions.ended('evict', doors, victim.source, victim.family, victim.stage, when));
    return true;
  }
}
