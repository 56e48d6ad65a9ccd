import type { Door, Protocol } from '../core/types.js';

/**
 * Fixed doors that behave identically at their first stage: same first knock, TCPFlags, Target and
 * seq_timeout, at least two steps, and at least two such doors. A source's first knock at such a group starts one shared
 * attempt for all of its doors instead of one per door, so a packet costs the same with one door or
 * 10 000 behind that knock; the second knock fans it out to the doors whose second step it is.
 */
export interface DoorGroup {
  /** Member door indices, ascending; the group is visited after its highest member (see Matcher.feed). */
  readonly indices: readonly number[];
  readonly doors: readonly Door[];
  readonly protocol: Protocol;
  readonly port: number;
  readonly seqTimeoutMs: number;
  /** Members by the key of their second step (`stepKey`), each list ascending. */
  readonly bySecond: ReadonlyMap<number, readonly number[]>;
  /** The members a second knock breaks (all but those it advances), by its key: a few recent ones. */
  readonly brokenBy: Map<number, readonly Door[]>;
}

/** Enough for the second knocks of a few real sequences; an attacker cycling keys costs O(doors) per second knock, as every knock did before groups. */
const BROKEN_BY_CACHED = 4;

/** The doors of a whole group that a second knock with this key breaks; shared, never mutated. */
export function doorsBrokenBy(group: DoorGroup, key: number, advancing: readonly number[]): readonly Door[] {
  if (advancing.length === 0) return group.doors;
  const doors = group.brokenBy.get(key);
  return doors ?? remember(group, key, advancing);
}

/** Apart from doorsBrokenBy: its closure would make every call allocate a context, hits included. */
function remember(group: DoorGroup, key: number, advancing: readonly number[]): readonly Door[] {
  const advanced = new Set(advancing);
  const doors = group.doors.filter((_, i) => !advanced.has(group.indices[i]!));
  if (group.brokenBy.size >= BROKEN_BY_CACHED) group.brokenBy.clear();
  group.brokenBy.set(key, doors);
  return doors;
}

const NO_GROUP = -1;

export class DoorGroups {
  readonly list: DoorGroup[] = [];
  /** Each door's group, or -1 (time-based, one-time and one-step doors, and a door alone, keep attempts of their own). */
  readonly groupOf: Int32Array;
  /** The group visited at this door index (its highest member), or -1. */
  readonly groupAt: Int32Array;

  constructor(doors: readonly Door[]) {
    this.groupOf = new Int32Array(doors.length).fill(NO_GROUP);
    this.groupAt = new Int32Array(doors.length).fill(NO_GROUP);
    const byKey = new Map<string, { indices: number[]; doors: Door[]; bySecond: Map<number, number[]> }>();
    for (let index = 0; index < doors.length; index++) {
      const door = doors[index]!;
      if (door.timeSequence || door.oneTimeFile !== undefined || door.steps.length < 2) continue;
      const first = door.steps[0]!;
      const key = JSON.stringify([first.protocol, first.port, door.tcpFlags.required, door.tcpFlags.forbidden, door.target ?? null, door.seqTimeoutMs]);
      let group = byKey.get(key);
      if (!group) byKey.set(key, (group = { indices: [], doors: [], bySecond: new Map() }));
      group.indices.push(index);
      group.doors.push(door);
      const second = door.steps[1]!;
      const secondKey = stepKey(second.protocol, second.port);
      let list = group.bySecond.get(secondKey);
      if (!list) group.bySecond.set(secondKey, (list = []));
      list.push(index);
    }
    for (const group of byKey.values()) {
      // A door alone keeps the plain path of doors with attempts of their own: sharing gains nothing.
      if (group.indices.length < 2) continue;
      const g = this.list.length;
      const lead = group.doors[0]!;
      this.list.push({ ...group, protocol: lead.steps[0]!.protocol, port: lead.steps[0]!.port, seqTimeoutMs: lead.seqTimeoutMs, brokenBy: new Map() });
      for (const index of group.indices) this.groupOf[index] = g;
      this.groupAt[group.indices.at(-1)!] = g;
    }
  }

  /** Whether the door is a member of a group (its first stage is shared). */
  grouped(index: number): boolean {
    return this.groupOf[index]! !== NO_GROUP;
  }
}

export function stepKey(protocol: Protocol, port: number): number {
  return protocol === 'udp' ? port * 2 + 1 : port * 2;
}

/** `all` minus `remove`, both ascending; `all` itself when nothing is removed. */
export function without(all: readonly number[], remove: readonly number[]): readonly number[] {
  if (remove.length === 0) return all;
  const out: number[] = [];
  let j = 0;
  for (const value of all) {
    while (j < remove.length && remove[j]! < value) j++;
    if (j < remove.length && remove[j] === value) continue;
    out.push(value);
  }
  return out;
}

/** The values of `a` that are also in `b`, both ascending. */
export function intersection(a: readonly number[], b: readonly number[]): readonly number[] {
  const out: number[] = [];
  let j = 0;
  for (const value of a) {
    while (j < b.length && b[j]! < value) j++;
    if (j < b.length && b[j] === value) out.push(value);
  }
  return out;
}
