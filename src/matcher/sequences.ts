import type { Door, KnockStep } from '../core/types.js';

/**
 * Which sequences may open a door at a given moment. Fixed doors have one; a one-time door has the
 * first unused line of its file; a time-based door has the sequences of the current and the previous
 * time step (whether they may still open it is `isAvailable`). The matcher asks this book and stays ignorant of the kinds.
 */
export interface Candidate {
  steps: readonly KnockStep[];
  /** Identifies the sequence in `open` actions: 'fixed', 'line:<n>' or 'step:<t>'. */
  id: string;
  /** Time step of a time-based sequence, line of a one-time sequence. */
  stepIndex?: number;
  line?: number;
}

export interface OneTimeLine {
  line: number;
  steps: KnockStep[];
}

/** Derives a time-based door's sequences; injected so the matcher does not depend on the HMAC code. */
export interface TimeSequenceDeriver {
  /** Time steps valid at `at` (current first, then the skew window). */
  stepsAt(door: Door, at: number): number[];
  derive(door: Door, step: number): KnockStep[];
}

const noTimeSequences: TimeSequenceDeriver = {
  stepsAt: () => [],
  derive: () => [],
};

export class SequenceBook {
  private readonly oneTime = new Map<string, OneTimeLine[]>();
  private readonly usedSteps = new Map<string, Set<number>>();
  private readonly derived = new Map<string, { step: number; steps: KnockStep[] }[]>();
  private readonly fixed = new Map<string, Candidate[]>();

  constructor(private readonly deriver: TimeSequenceDeriver = noTimeSequences) {}

  /** The unused lines of a door's One_Time_Sequences file, in file order. */
  setOneTimeLines(doorName: string, lines: OneTimeLine[]): void {
    this.oneTime.set(doorName, lines.slice());
  }

  oneTimeRemaining(doorName: string): number {
    return this.oneTime.get(doorName)?.length ?? 0;
  }

  /** Time steps that already opened a door: restored from the state dir after a restart. */
  markStepUsed(doorName: string, step: number): void {
    let used = this.usedSteps.get(doorName);
    if (!used) this.usedSteps.set(doorName, (used = new Set()));
    used.add(step);
  }

  usedStepsOf(doorName: string): number[] {
    return [...(this.usedSteps.get(doorName) ?? [])];
  }

  /** The used time steps of the time-based doors among `doors`, for the state store. */
  snapshotUsedSteps(doors: readonly Door[]): Map<string, number[]> {
    const snapshot = new Map<string, number[]>();
    for (const door of doors) {
      if (!door.timeSequence) continue;
      const steps = this.usedStepsOf(door.name);
      if (steps.length > 0) snapshot.set(door.name, steps);
    }
    return snapshot;
  }

  /** Puts back what `snapshotUsedSteps` saved (after a restart). */
  restoreUsedSteps(snapshot: ReadonlyMap<string, readonly number[]>): void {
    for (const [door, steps] of snapshot) for (const step of steps) this.markStepUsed(door, step);
  }

  isStepUsed(doorName: string, step: number): boolean {
    return this.usedSteps.get(doorName)?.has(step) ?? false;
  }

  candidates(door: Door, at: number): Candidate[] {
    if (door.timeSequence) return this.timeCandidates(door, at);
    if (door.oneTimeFile !== undefined) {
      const next = this.oneTime.get(door.name)?.[0];
      return next ? [{ steps: next.steps, id: `line:${next.line}`, line: next.line }] : [];
    }
    let fixed = this.fixed.get(door.name);
    if (!fixed || fixed[0]?.steps !== door.steps) {
      fixed = [{ steps: door.steps, id: 'fixed' }];
      this.fixed.set(door.name, fixed);
    }
    return fixed;
  }

  /** False once a one-time line or a time step has been used, e.g. by another source meanwhile. */
  isAvailable(door: Door, candidate: Candidate): boolean {
    if (candidate.stepIndex !== undefined) return !this.isStepUsed(door.name, candidate.stepIndex);
    if (candidate.line !== undefined) return this.oneTime.get(door.name)?.some((l) => l.line === candidate.line) ?? false;
    return true;
  }

  /** Records that a candidate opened its door, so that it never opens it again. */
  consume(door: Door, candidate: Candidate): void {
    if (candidate.stepIndex !== undefined) this.markStepUsed(door.name, candidate.stepIndex);
    if (candidate.line !== undefined) {
      const lines = this.oneTime.get(door.name);
      if (lines) this.oneTime.set(door.name, lines.filter((l) => l.line !== candidate.line));
    }
  }

  /** Forgets derived sequences and used steps that can no longer be valid. */
  prune(doors: readonly Door[], at: number): void {
    for (const door of doors) {
      if (!door.timeSequence) continue;
      const valid = this.deriver.stepsAt(door, at);
      const oldest = Math.min(...valid);
      const used = this.usedSteps.get(door.name);
      if (used) for (const step of used) if (step < oldest) used.delete(step);
      const cache = this.derived.get(door.name);
      if (cache) this.derived.set(door.name, cache.filter((entry) => entry.step >= oldest));
    }
  }

  private timeCandidates(door: Door, at: number): Candidate[] {
    const result: Candidate[] = [];
    // Used steps stay candidates so that a replay is recognised and refused loudly, not ignored.
    for (const step of this.deriver.stepsAt(door, at)) {
      result.push({ steps: this.derivedSteps(door, step), id: `step:${step}`, stepIndex: step });
    }
    return result;
  }

  private derivedSteps(door: Door, step: number): KnockStep[] {
    let cache = this.derived.get(door.name);
    if (!cache) this.derived.set(door.name, (cache = []));
    const hit = cache.find((entry) => entry.step === step);
    if (hit) return hit.steps;
    const steps = this.deriver.derive(door, step);
    cache.push({ step, steps });
    if (cache.length > 4) cache.shift();
    return steps;
  }
}
