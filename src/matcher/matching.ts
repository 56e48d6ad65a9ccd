import type { Door, KnockEvent, KnockStep } from '../core/types.js';
import type { Candidate } from './sequences.js';

/**
 * One shared array per candidate, for the usual narrowing of a time-based door's two candidates (the
 * current and the previous step) to the one a knock matches: a flood of first knocks then allocates
 * nothing. Candidates are never mutated, so sharing `[candidate]` is safe.
 */
const alone = new WeakMap<Candidate, Candidate[]>();

export function narrowed(candidates: Candidate[], stage: number, event: KnockEvent, matches: number): Candidate[] {
  if (matches > 1) return candidates.filter((candidate) => stepMatches(candidate.steps[stage], event));
  let only = candidates[0]!;
  for (let i = 0; i < candidates.length; i++) if (stepMatches(candidates[i]!.steps[stage], event)) only = candidates[i]!;
  let array = alone.get(only);
  if (!array) alone.set(only, (array = [only]));
  return array;
}

export function stepMatches(step: KnockStep | undefined, event: KnockEvent): boolean {
  return step !== undefined && step.port === event.port && step.protocol === event.protocol;
}

/** Packets a door ignores outright, as knockd does: wrong TCP flags, or not sent to the door's Target. */
export function flagsSatisfy(door: Door, event: KnockEvent): boolean {
  if (door.target !== undefined && event.destination !== door.target) return false;
  if (event.protocol !== 'tcp') return true;
  const { required, forbidden } = door.tcpFlags;
  return (event.tcpFlags & required) === required && (event.tcpFlags & forbidden) === 0;
}

/*
 * Module functions, not arrow functions in the matcher's methods: a closure over `this` or a local makes V8
 * allocate the method's context on every call, taken or not (28 B per packet in a flood).
 */
export function doorsAt(doors: readonly Door[], indices: readonly number[]): Door[] {
  const out = new Array<Door>(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = doors[indices[i]!]!;
  return out;
}

export function endingAt(candidates: Candidate[], length: number): Candidate[] {
  return candidates.filter((candidate) => candidate.steps.length === length);
}
