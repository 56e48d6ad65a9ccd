import type { Door, KnockEvent, KnockStep } from '../../src/core/types.js';
import type { MatcherAction } from '../../src/matcher/matcher.js';
import type { Candidate, OneTimeLine, TimeSequenceDeriver } from '../../src/matcher/sequences.js';

/**
 * The matcher as the straightforward model the indexed one must agree with: every door visited for
 * every event, attempts in a Map keyed by door and source, sequences re-derived on every look. Slow on
 * purpose; only the property tests use it, as the oracle.
 */
interface ModelAttempt {
  source: string;
  family: 4 | 6;
  door: string;
  stage: number;
  startedAt: number;
  lastPort: number;
  lastProtocol: string;
  candidates: Candidate[];
}

export class ReferenceMatcher {
  private readonly attempts = new Map<string, ModelAttempt>();
  /** Attempt keys per stage, oldest first (a Map keeps insertion order). */
  private readonly stages = new Map<number, Map<string, ModelAttempt>>();
  private readonly oneTime = new Map<string, OneTimeLine[]>();
  private readonly usedSteps = new Map<string, Set<number>>();

  constructor(
    private doors: readonly Door[],
    private readonly maxAttempts: number,
    private readonly onAction: (action: MatcherAction) => void,
    private readonly deriver: TimeSequenceDeriver,
  ) {}

  get attemptCount(): number {
    return this.attempts.size;
  }

  setOneTimeLines(door: string, lines: OneTimeLine[]): void {
    this.oneTime.set(door, lines.slice());
  }

  feed(event: KnockEvent): void {
    this.doors.forEach((door) => {
      if (door.target !== undefined && event.destination !== door.target) return;
      if (event.protocol === 'tcp' && ((event.tcpFlags & door.tcpFlags.required) !== door.tcpFlags.required || (event.tcpFlags & door.tcpFlags.forbidden) !== 0)) return;
      const key = `${door.name}\u0000${event.source}`;
      const attempt = this.attempts.get(key);
      if (attempt) {
        if (event.at - attempt.startedAt > door.seqTimeoutMs) {
          this.drop(key);
          this.onAction({ kind: 'expire', door, doors: [door], source: attempt.source, family: attempt.family, stage: attempt.stage, at: event.at });
        } else {
          const matching = attempt.candidates.filter((c) => same(c.steps[attempt.stage], event));
          if (matching.length > 0) {
            this.stages.get(attempt.stage)?.delete(key);
            attempt.stage++;
            attempt.candidates = matching;
            attempt.lastPort = event.port;
            attempt.lastProtocol = event.protocol;
            const finished = matching.filter((c) => c.steps.length === attempt.stage);
            if (finished.length > 0) {
              this.attempts.delete(key);
              this.conclude(door, event, finished);
            } else {
              this.stageOf(attempt.stage).set(key, attempt);
              this.onAction({ kind: 'stage', door, doors: [door], source: event.source, family: event.family, stage: attempt.stage, at: event.at });
            }
            return;
          }
          if (event.port === attempt.lastPort && event.protocol === attempt.lastProtocol) return;
          this.drop(key);
          this.onAction({ kind: 'broken', door, doors: [door], source: event.source, family: event.family, stage: attempt.stage, at: event.at, port: event.port, protocol: event.protocol });
        }
      }
      const matching = this.candidates(door, event.at).filter((c) => same(c.steps[0], event));
      if (matching.length === 0) return;
      const finished = matching.filter((c) => c.steps.length === 1);
      if (finished.length > 0) return this.conclude(door, event, finished);
      if (this.attempts.size >= this.maxAttempts) {
        const victimKey = this.stages.get(1)?.keys().next().value;
        if (victimKey === undefined) {
          this.onAction({ kind: 'evict', door, doors: [door], source: event.source, family: event.family, stage: 0, at: event.at });
          return;
        }
        const victim = this.attempts.get(victimKey)!;
        this.drop(victimKey);
        const victimDoor = this.doorNamed(victim.door);
        this.onAction({ kind: 'evict', door: victimDoor, doors: [victimDoor], source: victim.source, family: victim.family, stage: victim.stage, at: event.at });
      }
      const fresh: ModelAttempt = { source: event.source, family: event.family, door: door.name, stage: 1, startedAt: event.at, lastPort: event.port, lastProtocol: event.protocol, candidates: matching };
      this.attempts.set(key, fresh);
      this.stageOf(1).set(key, fresh);
      this.onAction({ kind: 'stage', door, doors: [door], source: event.source, family: event.family, stage: 1, at: event.at });
    });
  }

  tick(now: number): void {
    for (const stage of [...this.stages.keys()].sort((a, b) => a - b)) {
      for (const [key, attempt] of [...this.stages.get(stage)!]) {
        const door = this.doorNamed(attempt.door);
        if (now - attempt.startedAt <= door.seqTimeoutMs) continue;
        this.drop(key);
        this.onAction({ kind: 'expire', door, doors: [door], source: attempt.source, family: attempt.family, stage: attempt.stage, at: now });
      }
    }
    // Used steps older than every valid one are forgotten, as the daemon's book does.
    for (const door of this.doors) {
      if (!door.timeSequence) continue;
      const oldest = Math.min(...this.deriver.stepsAt(door, now));
      const used = this.usedSteps.get(door.name);
      if (used) this.usedSteps.set(door.name, new Set([...used].filter((step) => step >= oldest)));
    }
  }

  /** Keeps the attempts of doors whose matching rules are unchanged (`sameRules` decides). */
  replaceDoors(doors: readonly Door[], sameRules: (a: Door, b: Door) => boolean): void {
    const old = this.doors;
    this.doors = doors;
    for (const [key, attempt] of [...this.attempts]) {
      const before = old.find((d) => d.name === attempt.door)!;
      const after = [...doors].reverse().find((d) => d.name === attempt.door);
      if (!after || !sameRules(before, after)) this.drop(key);
    }
  }

  private conclude(door: Door, event: KnockEvent, finished: Candidate[]): void {
    const usable = finished.find((c) => this.available(door, c));
    if (usable) {
      if (usable.stepIndex !== undefined) this.usedSteps.set(door.name, new Set([...(this.usedSteps.get(door.name) ?? []), usable.stepIndex]));
      if (usable.line !== undefined) this.oneTime.set(door.name, (this.oneTime.get(door.name) ?? []).filter((l) => l.line !== usable.line));
      this.onAction({ kind: 'open', door, source: event.source, family: event.family, at: event.at, sequence: usable });
    } else {
      this.onAction({ kind: 'replay', door, source: event.source, family: event.family, at: event.at, sequence: finished[0]! });
    }
  }

  private available(door: Door, c: Candidate): boolean {
    if (c.stepIndex !== undefined) return !(this.usedSteps.get(door.name)?.has(c.stepIndex) ?? false);
    if (c.line !== undefined) return (this.oneTime.get(door.name) ?? []).some((l) => l.line === c.line);
    return true;
  }

  private candidates(door: Door, at: number): Candidate[] {
    if (door.timeSequence) return this.deriver.stepsAt(door, at).map((step) => ({ steps: this.deriver.derive(door, step), id: `step:${step}`, stepIndex: step }));
    if (door.oneTimeFile !== undefined) {
      const next = this.oneTime.get(door.name)?.[0];
      return next ? [{ steps: next.steps, id: `line:${next.line}`, line: next.line }] : [];
    }
    return [{ steps: door.steps, id: 'fixed' }];
  }

  private drop(key: string): void {
    const attempt = this.attempts.get(key);
    if (!attempt) return;
    this.attempts.delete(key);
    this.stages.get(attempt.stage)?.delete(key);
  }

  private stageOf(stage: number): Map<string, ModelAttempt> {
    let map = this.stages.get(stage);
    if (!map) this.stages.set(stage, (map = new Map()));
    return map;
  }

  private doorNamed(name: string): Door {
    return [...this.doors].reverse().find((d) => d.name === name)!;
  }
}

function same(step: KnockStep | undefined, event: KnockEvent): boolean {
  return step !== undefined && step.port === event.port && step.protocol === event.protocol;
}

/** An action as text per door it stands for (a shared first stage's stands for several), for comparing per-door streams. */
export function describePerDoor(action: MatcherAction): string[] {
  if (action.kind === 'open' || action.kind === 'replay') return [describeAction(action)];
  return action.doors.map((door) => describeAction({ ...action, door }));
}

/** An action as text, for comparing two matchers' streams. */
export function describeAction(action: MatcherAction): string {
  const extra = action.kind === 'broken' ? `:${action.port}/${action.protocol}` : action.kind === 'open' || action.kind === 'replay' ? `:${action.sequence.id}` : `:${action.stage}`;
  return `${action.kind}:${action.door.name}:${action.source}:${action.family}:${action.at}${extra}`;
}
