import type { Door, KnockStep } from '../core/types.js';

export type PairWarn = (door: Door, code: 'sequence-prefix' | 'shared-first-knock', message: string, severity: 'warning' | 'note', key: string) => void;

const stepText = (step: KnockStep) => `${step.port}/${step.protocol}`;

/**
 * Doors whose fixed sequences overlap: one is a prefix of the other, or both start with the same
 * knock. Only doors sharing a first knock can do either, so doors are grouped by it and only pairs
 * within a group compared: linear in the doors plus the pairs reported, not quadratic in the doors.
 * Within a door, warnings come in the order of a walk over all pairs (i < j), as before the grouping.
 */
export function checkDoorPairs(doors: readonly Door[], warn: PairWarn): void {
  const groups = new Map<string, Door[]>();
  for (const door of doors) {
    const first = door.steps[0];
    if (!first) continue;
    const key = stepText(first);
    const group = groups.get(key);
    if (group) group.push(door);
    else groups.set(key, [door]);
  }
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) comparePair(group[i]!, group[j]!, warn);
    }
  }
}

function comparePair(a: Door, b: Door, warn: PairWarn): void {
  const [short, long] = a.steps.length <= b.steps.length ? [a, b] : [b, a];
  const prefix = short.steps.every((step, k) => step.port === long.steps[k]!.port && step.protocol === long.steps[k]!.protocol);
  if (prefix) {
    const same = short.steps.length === long.steps.length;
    warn(long, 'sequence-prefix', same
      ? `doors [${short.name}] and [${long.name}] have the same sequence: one knock opens both`
      : `the sequence of door [${short.name}] starts this one: knocking [${long.name}] opens [${short.name}] too`, 'warning', 'sequence');
  } else {
    warn(b, 'shared-first-knock', `doors [${a.name}] and [${b.name}] share their first knock (${stepText(short.steps[0]!)}): both track every knocker, which makes logs and mistakes harder to read`, 'note', 'sequence');
  }
}

/**
 * The doors whose start_command deletes a rule, by what they delete: `closerOf` finds the door that
 * closes another in one look-up instead of comparing every pair of commands.
 */
export class CloserIndex {
  private readonly byDeletion = new Map<string, Door[]>();

  constructor(
    doors: readonly Door[],
    private readonly deletionOf: (command: string) => string,
    opens: (command: string) => boolean,
  ) {
    for (const door of doors) {
      if (door.startCommand === undefined || opens(door.startCommand)) continue;
      const key = deletionOf(door.startCommand);
      const list = this.byDeletion.get(key);
      // Two are enough: the first one that is not the door asking.
      if (!list) this.byDeletion.set(key, [door]);
      else if (list.length < 2) list.push(door);
    }
  }

  closerOf(door: Door, start: string): Door | undefined {
    return this.byDeletion.get(this.deletionOf(start))?.find((other) => other !== door);
  }
}
