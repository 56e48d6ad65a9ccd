import type { Door, Protocol } from '../core/types.js';
import { timeWindow, type Candidate, type SequenceBook } from './sequences.js';
import type { When } from './actions.js';
import { stepKey, type DoorGroups } from './door-groups.js';

const NONE: readonly number[] = Object.freeze([]);
const NO_SINGLES: Candidate[][] = [];

/**
 * Doors by the (protocol, port) their sequences start with, so that a packet visits only the doors it
 * can start (plus its source's own attempts) instead of every door. Fixed doors are indexed once; a
 * one-time door moves when its next line changes (the book tells us); a time-based door moves when its
 * period turns, checked once per event against the earliest turn of all of them. A group of doors
 * sharing their first stage (`DoorGroups`) is listed once, under its highest member.
 *
 * The door lists are never changed in place, only replaced: the matcher may be walking one while an
 * open consumes a one-time line and moves its door.
 */
export class DoorIndex {
  private readonly byFirst = new Map<number, readonly number[]>();
  /** Each door's current candidates, as the book gave them, and the keys they are indexed under. */
  private readonly current: Candidate[][];
  /** `[candidate]` for each of a door's current candidates when it has several (time-based doors): what a knock matching one of them narrows to, made once per period instead of looked up per packet. */
  private readonly singles: Candidate[][][];
  private readonly keysOf: number[][];
  private readonly timeDoors: number[] = [];
  private readonly timeFrom: Float64Array;
  private readonly timeUntil: Float64Array;
  /** All time-based doors' candidates hold for `at` within [validFrom, validUntil). */
  private validFrom = Infinity;
  private validUntil = -Infinity;
  private readonly oneTimeByName = new Map<string, number>();

  constructor(
    private readonly doors: readonly Door[],
    private readonly book: SequenceBook,
    groups: DoorGroups,
  ) {
    this.current = new Array<Candidate[]>(doors.length);
    this.singles = new Array<Candidate[][]>(doors.length).fill(NO_SINGLES);
    this.keysOf = new Array<number[]>(doors.length);
    this.timeFrom = new Float64Array(doors.length);
    this.timeUntil = new Float64Array(doors.length);
    const staticLists = new Map<number, number[]>();
    for (let index = 0; index < doors.length; index++) {
      const door = doors[index]!;
      this.keysOf[index] = [];
      this.current[index] = [];
      if (door.timeSequence) {
        this.timeDoors.push(index);
        continue;
      }
      if (door.oneTimeFile !== undefined) this.oneTimeByName.set(door.name, index);
      const candidates = book.candidates(door, 0);
      this.current[index] = candidates;
      if (groups.grouped(index) && groups.groupAt[index]! < 0) continue;
      const keys = keysOfCandidates(candidates);
      this.keysOf[index] = keys;
      // Ascending door order by construction: the lists start sorted.
      for (const key of keys) {
        let list = staticLists.get(key);
        if (!list) staticLists.set(key, (list = []));
        list.push(index);
      }
    }
    for (const [key, list] of staticLists) this.byFirst.set(key, list);
  }

  /** Brings the time-based doors to `at`; call before `startingWith` and `candidatesOf` for an event at `at`. */
  prepare(when: When): void {
    // The time is read here, not passed in: see When.
    const at = when.at;
    if (at >= this.validFrom && at < this.validUntil) return;
    let from = -Infinity;
    let until = Infinity;
    for (const index of this.timeDoors) {
      if (!(at >= this.timeFrom[index]! && at < this.timeUntil[index]!)) {
        const door = this.doors[index]!;
        const window = timeWindow(door.timeSequence!, at);
        this.timeFrom[index] = window.from;
        this.timeUntil[index] = window.until;
        this.move(index, this.book.candidates(door, at));
      }
      from = Math.max(from, this.timeFrom[index]!);
      until = Math.min(until, this.timeUntil[index]!);
    }
    this.validFrom = from;
    this.validUntil = until;
  }

  /** Door indices, ascending, whose current sequences start with this knock (a group: its highest member only). Never mutated: do not mutate it. */
  startingWith(protocol: Protocol, port: number): readonly number[] {
    return this.byFirst.get(stepKey(protocol, port)) ?? NONE;
  }

  candidatesOf(index: number): Candidate[] {
    return this.current[index]!;
  }

  /** `[candidatesOf(index)[which]]`, shared and never mutated. */
  singleOf(index: number, which: number): Candidate[] {
    return this.singles[index]![which]!;
  }

  /** The book's listener: a one-time door's next line changed (used, or the file reloaded). */
  oneTimeChanged(doorName: string): void {
    const index = this.oneTimeByName.get(doorName);
    if (index === undefined) return;
    this.move(index, this.book.candidates(this.doors[index]!, 0));
  }

  private move(index: number, candidates: Candidate[]): void {
    this.current[index] = candidates;
    this.singles[index] = candidates.length > 1 ? candidates.map((candidate) => [candidate]) : NO_SINGLES;
    const before = this.keysOf[index]!;
    const after = keysOfCandidates(candidates);
    this.keysOf[index] = after;
    for (const key of before) if (!after.includes(key)) this.replaceList(key, (list) => list.filter((d) => d !== index));
    for (const key of after) {
      if (before.includes(key)) continue;
      this.replaceList(key, (list) => {
        const copy = list.slice();
        let at = copy.length;
        while (at > 0 && copy[at - 1]! > index) at--;
        copy.splice(at, 0, index);
        return copy;
      });
    }
  }

  private replaceList(key: number, change: (list: readonly number[]) => readonly number[]): void {
    const next = change(this.byFirst.get(key) ?? NONE);
    if (next.length === 0) this.byFirst.delete(key);
    else this.byFirst.set(key, next);
  }
}

function keysOfCandidates(candidates: readonly Candidate[]): number[] {
  const keys: number[] = [];
  for (const candidate of candidates) {
    const first = candidate.steps[0];
    if (!first) continue;
    const key = stepKey(first.protocol, first.port);
    if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}
