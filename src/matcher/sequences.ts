import type { Door, KnockStep, TimeSequenceSpec } from '../core/types.js';

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
  /**
   * Time steps valid at `at` (current first, then the skew window). The answer must be the same for
   * every `at` within one period of the door, [k * period, (k + 1) * period): the book caches it so.
   */
  stepsAt(door: Door, at: number): number[];
  derive(door: Door, step: number): KnockStep[];
}

const noTimeSequences: TimeSequenceDeriver = {
  stepsAt: () => [],
  derive: () => [],
};

/** A door's one-time lines: the unused ones are `lines` from `next` on, minus any consumed out of order. */
interface OneTimeBook {
  lines: OneTimeLine[];
  next: number;
  unused: Set<number>;
  /** The candidate of `lines[next]`, made once per line so that a flood of first knocks allocates nothing. */
  current: Candidate[] | undefined;
}

/** A time-based door's candidates for one period, [from, until), and the candidates of the steps it derived. */
interface TimeBook {
  spec: TimeSequenceSpec;
  from: number;
  until: number;
  candidates: Candidate[];
  byStep: Map<number, Candidate>;
}

const NO_CANDIDATES: Candidate[] = [];

/** The period of a time-based door that contains `at`: its candidates are the same throughout. */
export function timeWindow(spec: TimeSequenceSpec, at: number): { from: number; until: number } {
  const period = spec.periodSeconds * 1000;
  const from = Math.floor(at / period) * period;
  return { from, until: from + period };
}

export class SequenceBook {
  private readonly oneTime = new Map<string, OneTimeBook>();
  private readonly usedSteps = new Map<string, Set<number>>();
  private readonly time = new Map<string, TimeBook>();
  private readonly fixed = new Map<string, Candidate[]>();
  private readonly listeners: ((doorName: string) => void)[] = [];

  constructor(private readonly deriver: TimeSequenceDeriver = noTimeSequences) {}

  /** The unused lines of a door's One_Time_Sequences file, in file order. */
  setOneTimeLines(doorName: string, lines: OneTimeLine[]): void {
    this.oneTime.set(doorName, { lines: lines.slice(), next: 0, unused: new Set(lines.map((l) => l.line)), current: undefined });
    this.changed(doorName);
  }

  oneTimeRemaining(doorName: string): number {
    return this.oneTime.get(doorName)?.unused.size ?? 0;
  }

  /** Called with a door's name whenever its one-time candidate may have changed (the matcher's index listens). */
  onOneTimeChange(listener: (doorName: string) => void): void {
    this.listeners.push(listener);
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

  /** The returned array is shared and never mutated: callers must not change it either. */
  candidates(door: Door, at: number): Candidate[] {
    if (door.timeSequence) return this.timeCandidates(door, at);
    if (door.oneTimeFile !== undefined) return this.oneTimeCandidates(door.name);
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
    if (candidate.line !== undefined) return this.oneTime.get(door.name)?.unused.has(candidate.line) ?? false;
    return true;
  }

  /** Records that a candidate opened its door, so that it never opens it again. */
  consume(door: Door, candidate: Candidate): void {
    if (candidate.stepIndex !== undefined) this.markStepUsed(door.name, candidate.stepIndex);
    if (candidate.line !== undefined) {
      const book = this.oneTime.get(door.name);
      if (!book || !book.unused.delete(candidate.line)) return;
      book.current = undefined;
      this.changed(door.name);
    }
  }

  /** Forgets derived sequences and used steps that can no longer be valid. */
  prune(doors: readonly Door[], at: number): void {
    for (const door of doors) {
      if (!door.timeSequence) continue;
      const oldest = Math.min(...this.deriver.stepsAt(door, at));
      const used = this.usedSteps.get(door.name);
      if (used) for (const step of used) if (step < oldest) used.delete(step);
      const book = this.time.get(door.name);
      if (book) for (const step of book.byStep.keys()) if (step < oldest) book.byStep.delete(step);
    }
  }

  private oneTimeCandidates(doorName: string): Candidate[] {
    const book = this.oneTime.get(doorName);
    if (!book) return NO_CANDIDATES;
    if (book.current) return book.current;
    while (book.next < book.lines.length && !book.unused.has(book.lines[book.next]!.line)) book.next++;
    const next = book.lines[book.next];
    book.current = next ? [{ steps: next.steps, id: `line:${next.line}`, line: next.line }] : NO_CANDIDATES;
    return book.current;
  }

  /**
   * The deriver's steps are constant over each period (both steps derive from floor(at / period)), so
   * the candidates are made once per period and door, not per packet.
   */
  private timeCandidates(door: Door, at: number): Candidate[] {
    const spec = door.timeSequence!;
    let book = this.time.get(door.name);
    if (book && book.spec === spec && at >= book.from && at < book.until) return book.candidates;
    const { from, until } = timeWindow(spec, at);
    // A reload may change the secret or the period: sequences derived for the old spec are dropped.
    if (!book || book.spec !== spec) this.time.set(door.name, (book = { spec, from, until, candidates: [], byStep: new Map() }));
    book.from = from;
    book.until = until;
    const candidates: Candidate[] = [];
    // Used steps stay candidates so that a replay is recognised and refused loudly, not ignored.
    for (const step of this.deriver.stepsAt(door, at)) {
      let candidate = book.byStep.get(step);
      if (!candidate) {
        candidate = { steps: this.deriver.derive(door, step), id: `step:${step}`, stepIndex: step };
        book.byStep.set(step, candidate);
        if (book.byStep.size > 4) book.byStep.delete(book.byStep.keys().next().value as number);
      }
      candidates.push(candidate);
    }
    book.candidates = candidates;
    return candidates;
  }

  private changed(doorName: string): void {
    for (const listener of this.listeners) listener(doorName);
  }
}
