import type { Door } from '../core/types.js';
import type { Attempt, Attempts } from './attempts.js';
import type { DoorGroups } from './door-groups.js';
import type { Candidate } from './sequences.js';
import { matchingFingerprint } from './fingerprint.js';

/**
 * Each old door's index among `doors` when it is still there with the same matching rules, else -1;
 * undefined when every door kept its index and rules. Doors are compared once each.
 */
export function renumbering(old: readonly Door[], doors: readonly Door[]): Int32Array | undefined {
  const newIndexByName = new Map(doors.map((door, index) => [door.name, index]));
  const renumbered = new Int32Array(old.length).fill(-1);
  let unchanged = old.length === doors.length;
  for (let index = 0; index < old.length; index++) {
    const newIndex = newIndexByName.get(old[index]!.name);
    if (newIndex !== undefined && (old[index] === doors[newIndex] || matchingFingerprint(old[index]!) === matchingFingerprint(doors[newIndex]!))) {
      renumbered[index] = newIndex;
    }
    if (renumbered[index] !== index) unchanged = false;
  }
  return unchanged ? undefined : renumbered;
}

/**
 * Moves the attempts to the new numbering (a look-up each, a rehash only when its door moved) and
 * drops those of doors that changed or went; a shared attempt keeps the doors that stayed.
 */
export function carryOver(
  attempts: Attempts,
  renumbered: Int32Array,
  oldGroups: DoorGroups,
  groups: DoorGroups,
  doorCount: number,
  candidatesOf: (index: number) => Candidate[],
): void {
  const whole = wholeGroups(renumbered, oldGroups, groups);
  for (const attempt of attempts.all()) {
    const g = attempt.group;
    if (g < 0) {
      const newIndex = renumbered[attempt.doorIndex]!;
      if (newIndex < 0) attempts.remove(attempt);
      else if (newIndex !== attempt.doorIndex) attempts.renumber(attempt, newIndex);
      continue;
    }
    // A shared attempt of a group that stayed whole moves with it; others are rebuilt from their doors.
    const target = attempt.members === undefined ? whole[g]! : -1;
    if (target < 0) {
      regroup(attempts, attempt, oldGroups.list[g]!.indices, renumbered, groups, doorCount, candidatesOf);
      continue;
    }
    attempt.group = target;
    if (doorCount + target !== attempt.doorIndex) attempts.renumber(attempt, doorCount + target);
  }
  attempts.dropSpare();
}

/** For each old group: the new group that is exactly its doors, renumbered, or -1. */
function wholeGroups(renumbered: Int32Array, oldGroups: DoorGroups, groups: DoorGroups): Int32Array {
  const whole = new Int32Array(oldGroups.list.length).fill(-1);
  for (let g = 0; g < oldGroups.list.length; g++) {
    const indices = oldGroups.list[g]!.indices;
    const first = renumbered[indices[0]!]!;
    const target = first < 0 ? -1 : groups.groupOf[first]!;
    if (target < 0 || groups.list[target]!.indices.length !== indices.length) continue;
    if (indices.every((index) => renumbered[index]! >= 0 && groups.groupOf[renumbered[index]!] === target)) whole[g] = target;
  }
  return whole;
}

/**
 * The doors that stayed are still one group's (the group is decided by fields of the matching
 * fingerprint), unless only one of them is left alone: then the attempt becomes that door's own.
 */
function regroup(
  attempts: Attempts,
  attempt: Attempt,
  oldGroup: readonly number[],
  renumbered: Int32Array,
  groups: DoorGroups,
  doorCount: number,
  candidatesOf: (index: number) => Candidate[],
): void {
  const kept: number[] = [];
  for (const index of attempt.members ?? oldGroup) if (renumbered[index]! >= 0) kept.push(renumbered[index]!);
  kept.sort((a, b) => a - b);
  if (kept.length === 0) return attempts.remove(attempt);
  const g = groups.groupOf[kept[0]!]!;
  if (g < 0) {
    attempt.group = -1;
    attempt.members = undefined;
    attempt.candidates = candidatesOf(kept[0]!);
    attempts.renumber(attempt, kept[0]!);
    return;
  }
  attempt.group = g;
  attempt.members = kept.length === groups.list[g]!.indices.length ? undefined : kept;
  attempts.renumber(attempt, doorCount + g);
}
