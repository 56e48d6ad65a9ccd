import type { Logger } from 'pino';
import type { Clock, Door, Family } from '../core/types.js';
import { substituteCommand } from '../config/substitute.js';
import { resolveStartCommand } from '../config/commands.js';
import { parseState, serializeState } from '../runner/state-format.js';
import type { Candidate, SequenceBook } from '../matcher/sequences.js';
import type { OneTimeLine } from '../matcher/sequences.js';
import { DoorKeeper, type PendingClose } from './door-keeper.js';
import { openCallFor, removalCallFor } from '../firewall/door-calls.js';
import { describeCall, removalDone, type FirewallCall } from '../firewall/operations.js';
import type { Audit } from './audit.js';
import type { Counters } from './counters.js';

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
}

export interface Timers {
  setTimeout: typeof setTimeout;
  clearTimeout: typeof clearTimeout;
  setInterval: typeof setInterval;
  clearInterval: typeof clearInterval;
}

export interface DoorPorts {
  clock: Clock;
  /** Milliseconds from a clock that never jumps (performance.now); wall-clock steps must not delay a close. */
  monotonicNow?: () => number;
  logger: Logger;
  audit: Audit;
  state: {
    save(state: { pending: PendingClose[]; usedSteps: Record<string, number[]> }): Promise<void>;
  };
  /** Runs a shell command; `stop` commands are never refused. Rejects only when a start is refused. */
  runCommand(command: string, kind: 'start' | 'stop'): Promise<CommandOutcome>;
  /** Runs nft/ipset for an `Open =` door, without a shell, under the same bounds as commands. */
  runProgram?(call: FirewallCall, kind: 'start' | 'stop'): Promise<CommandOutcome>;
  commandTimeoutMs: number;
  oneTime: {
    read(door: Door): Promise<OneTimeLine[]>;
    /** Comments out a used line, durably, before the door opens; fails if the line is not what was read. */
    markUsed(door: Door, line: OneTimeLine): Promise<void>;
  };
}

/** A failed stop command is tried again after 5 s, doubling up to 10 min; from this attempt on, loudly. */
const STOP_ATTEMPTS_BEFORE_ALARM = 5;
const FIRST_STOP_RETRY_MS = 5_000;
const MAX_STOP_RETRY_MS = 600_000;

/**
 * Opens and closes doors. Decisions and persistence are chained on one promise so that they never
 * interleave; commands are not: each runs in the lane of its (door, source), so a start and the
 * stop of the same door keep their order while a hung command delays nobody else's door.
 */
export class DoorService {
  readonly keeper: DoorKeeper;
  private serial: Promise<void> = Promise.resolve();
  private readonly lanes = new Map<string, Promise<void>>();
  private closeTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private closingAll = false;
  /** Monotonic deadlines of the pending closes, kept in memory next to the wall-clock ones. */
  private readonly monotonicDeadlines = new Map<string, number>();
  private readonly stopAttempts = new Map<string, number>();
  /** (door, source) whose last start command failed: a re-knock runs it again. */
  private readonly failedStarts = new Set<string>();
  private readonly monotonicNow: () => number;

  constructor(
    private readonly ports: DoorPorts,
    private readonly sequences: SequenceBook,
    private readonly counters: Counters,
    private readonly timers: Timers,
    private readonly timeSequenceDoors: () => readonly Door[],
    restored: readonly PendingClose[],
  ) {
    this.monotonicNow = ports.monotonicNow ?? (() => performance.now());
    this.keeper = new DoorKeeper(restored);
    for (const pending of restored) this.trackMonotonic(pending);
  }

  /** Runs `operation` after every decision queued before it; its errors reach the caller. */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.serial.then(operation);
    this.serial = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  open(door: Door, source: string, family: Family, at: number, sequence: Candidate): void {
    if (this.stopping) return;
    this.enqueue(() => this.openDoor(door, source, family, at, sequence));
  }

  /** Closes the doors already overdue and arms the timer for the rest. */
  start(): Promise<void> {
    return this.closeDue();
  }

  /**
   * Stops deciding. Without `closeAll` it waits at most `graceMs` for decisions in flight: every open
   * is persisted before its command runs, so nothing is lost by not waiting for commands. With it,
   * every open door's stop command runs, and is waited for, before this resolves.
   */
  async stop(options: { closeAll: boolean; graceMs: number }): Promise<void> {
    if (options.closeAll) {
      this.closingAll = true;
      const closes = await this.exclusive(async () => this.closeDoors(this.keeper.takeAll()));
      // Doors already closing when we stopped are waited for too; unrelated hung starts are not.
      await Promise.all([...closes, ...this.lanesOf(this.keeper.list())]);
      await this.serial;
    } else {
      await this.within(this.serial, options.graceMs);
    }
    this.stopping = true;
    if (this.closeTimer) this.timers.clearTimeout(this.closeTimer);
  }

  private lanesOf(pending: readonly PendingClose[]): Promise<void>[] {
    return pending.map((p) => this.lanes.get(laneOf(p.door, p.source))).filter((lane): lane is Promise<void> => lane !== undefined);
  }

  private enqueue(operation: () => Promise<void>): void {
    void this.exclusive(operation).catch((error: unknown) => this.ports.logger.error({ err: error }, 'door operation failed'));
  }

  private async openDoor(door: Door, source: string, family: Family, at: number, sequence: Candidate): Promise<void> {
    const { audit, clock } = this.ports;
    // A one-time line is burnt before anything else, even when the door is already open for this
    // source: otherwise it would stay usable in the file after a reload or restart.
    if (sequence.line !== undefined && !(await this.consumeOneTimeLine(door, sequence, source))) return;
    // cmd_timeout runs from now, when the command runs, not from the knock's log stamp: a log source
    // may stamp lines up to a second early (rsyslog imkmsg), and a door must not close early.
    const plan = this.keeper.plan(door, source, family, Math.max(at, clock.now()));
    const lane = laneOf(door.name, source);
    if (plan.kind === 'extend') {
      this.keeper.commit(plan.pending);
      if (!(await this.persist())) {
        this.keeper.rollback(plan.pending, plan.previous);
        return;
      }
      this.trackMonotonic(plan.pending);
      audit.extended(clock.now(), source, door.name, plan.pending.closesAt);
      if (this.failedStarts.has(lane)) this.runStart(door, source, family);
      else this.renewKernelTimeout(door, source, family);
      this.scheduleCloses();
      return;
    }
    if (plan.pending) {
      if (!roundTrips(plan.pending)) {
        audit.refused(clock.now(), source, door.name, 'its stop command or name could not be saved and read back from the state file, so the door stays shut');
        return;
      }
      this.keeper.commit(plan.pending);
      if (!(await this.persist())) {
        this.keeper.rollback(plan.pending);
        audit.refused(clock.now(), source, door.name, 'the pending close could not be saved, so the door stays shut');
        return;
      }
      this.trackMonotonic(plan.pending);
    } else if (sequence.stepIndex !== undefined && !(await this.persist())) {
      audit.refused(clock.now(), source, door.name, 'the used time step could not be saved, so the door stays shut');
      return;
    }
    this.runStart(door, source, family);
    this.scheduleCloses();
  }

  private runStart(door: Door, source: string, family: Family): void {
    const start = resolveStartCommand(door, family);
    const opening = openCallFor(door, source, family);
    const lane = laneOf(door.name, source);
    if (start === undefined && opening === undefined) return;
    this.inLane(lane, async () => {
      const opened = opening === undefined || (await this.runLogged(opening, 'start', source, door.name));
      const ok = start === undefined || (await this.runLogged(substituteCommand(start, source, door.cmdTimeoutMs), 'start', source, door.name));
      if (ok && opened) this.failedStarts.delete(lane);
      else this.failedStarts.add(lane);
    });
  }

  /** A re-knock while open: the kernel entry gets the full cmd_timeout again (issue 13). */
  private renewKernelTimeout(door: Door, source: string, family: Family): void {
    const opening = openCallFor(door, source, family);
    if (opening !== undefined) this.inLane(laneOf(door.name, source), async () => void (await this.runLogged(opening, 'start', source, door.name)));
  }

  private async consumeOneTimeLine(door: Door, sequence: Candidate, source: string): Promise<boolean> {
    const line: OneTimeLine = { line: sequence.line as number, steps: [...sequence.steps] };
    try {
      await this.ports.oneTime.markUsed(door, line);
    } catch (error) {
      this.ports.logger.error({ err: error, door: door.name, line: line.line }, 'could not mark the one-time sequence used');
      this.ports.audit.refused(this.ports.clock.now(), source, door.name, 'the used one-time sequence could not be marked, so the door stays shut');
      return false;
    }
    if (this.sequences.oneTimeRemaining(door.name) === 0) this.ports.audit.oneTimeExhausted(this.ports.clock.now(), door.name);
    return true;
  }

  /** Chains `work` after the previous command of the same (door, source). */
  private inLane(lane: string, work: () => Promise<void>): Promise<void> {
    const previous = this.lanes.get(lane) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => this.ports.logger.error({ err: error, lane }, 'door command failed'));
    this.lanes.set(lane, next);
    void next.then(() => {
      if (this.lanes.get(lane) === next) this.lanes.delete(lane);
    });
    return next;
  }

  /** True when the command (or nft/ipset call) ran and exited 0, or `done` says it did its work. */
  private async runLogged(command: string | FirewallCall, kind: 'start' | 'stop', source: string, door: string, done = succeeded): Promise<boolean> {
    const { audit, clock } = this.ports;
    audit.running(clock.now(), source, door, typeof command === 'string' ? command : describeCall(command), kind);
    this.counters.commands++;
    try {
      const outcome = typeof command === 'string' ? await this.ports.runCommand(command, kind) : await this.runProgram(command, kind);
      audit.commandResult(clock.now(), source, door, outcome, this.ports.commandTimeoutMs);
      return done(outcome);
    } catch (error) {
      audit.refused(clock.now(), source, door, error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  private runProgram(call: FirewallCall, kind: 'start' | 'stop'): Promise<CommandOutcome> {
    if (!this.ports.runProgram) throw new Error('this daemon cannot run nft/ipset (no runProgram port)');
    return this.ports.runProgram(call, kind);
  }

  private async persist(): Promise<boolean> {
    try {
      await this.ports.state.save({ pending: this.keeper.list(), usedSteps: this.usedSteps() });
      return true;
    } catch (error) {
      this.ports.logger.error({ err: error }, 'saving the state failed');
      return false;
    }
  }

  private usedSteps(): Record<string, number[]> {
    const result: Record<string, number[]> = {};
    for (const door of this.timeSequenceDoors()) {
      if (!door.timeSequence) continue;
      const steps = this.sequences.usedStepsOf(door.name);
      if (steps.length > 0) result[door.name] = steps;
    }
    return result;
  }

  private trackMonotonic(pending: PendingClose): void {
    this.monotonicDeadlines.set(pending.id, this.monotonicNow() + Math.max(0, pending.closesAt - this.ports.clock.now()));
  }

  private scheduleCloses(): void {
    if (this.closeTimer) this.timers.clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    if (this.stopping) return;
    const now = this.ports.clock.now();
    const monotonicNow = this.monotonicNow();
    let delay: number | undefined;
    for (const pending of this.keeper.list()) {
      if (this.keeper.isClosing(pending.id)) continue;
      const byWall = pending.closesAt - now;
      const byMonotonic = (this.monotonicDeadlines.get(pending.id) ?? Infinity) - monotonicNow;
      const due = Math.min(byWall, byMonotonic);
      if (delay === undefined || due < delay) delay = due;
    }
    if (delay === undefined) return;
    // setTimeout caps at 2^31-1 ms; a longer cmd_timeout simply re-arms.
    this.closeTimer = this.timers.setTimeout(() => void this.closeDue(), Math.min(Math.max(0, delay), 0x7fffffff));
  }

  private closeDue(): Promise<void> {
    return this.exclusive(async () => {
      const monotonicNow = this.monotonicNow();
      const due = this.keeper.takeDue(this.ports.clock.now(), (pending) => (this.monotonicDeadlines.get(pending.id) ?? Infinity) <= monotonicNow);
      this.closeDoors(due);
      this.scheduleCloses();
    }).catch((error: unknown) => {
      this.ports.logger.error({ err: error }, 'closing doors failed');
      this.scheduleCloses();
    });
  }

  /**
   * Runs each stop command in its door's lane, then forgets the door and persists. A crash before
   * that persist runs the stop command again at the next start: closing twice is harmless, never
   * closing is not. A stop command that fails keeps its door and is tried again with backoff.
   */
  private closeDoors(due: PendingClose[]): Promise<void>[] {
    const { audit, clock } = this.ports;
    return due.map((pending) => {
      audit.commandTimeout(clock.now(), pending.source, pending.door);
      audit.closing(clock.now(), pending.source, pending.door);
      return this.inLane(laneOf(pending.door, pending.source), () => this.runStop(pending));
    });
  }

  private async runStop(pending: PendingClose): Promise<void> {
    // The kernel entry goes first: it is what lets the knocker in; an entry already expired counts as removed.
    const removal = removalCallFor(pending);
    const firewall = pending.open?.firewall;
    const removed = removal === undefined || firewall === undefined || (await this.runLogged(removal, 'stop', pending.source, pending.door, (outcome) => removalDone(firewall, outcome)));
    const stopped = pending.stopCommand === undefined || (await this.runLogged(pending.stopCommand, 'stop', pending.source, pending.door));
    const ok = removed && stopped;
    if (ok) return this.exclusive(() => this.forget(pending));
    // Closing everything at exit: no later retry will come, so try again now (twice at most).
    if (this.closingAll && (this.stopAttempts.get(pending.id) ?? 0) < 2) {
      this.stopAttempts.set(pending.id, (this.stopAttempts.get(pending.id) ?? 0) + 1);
      return this.runStop(pending);
    }
    return this.exclusive(() => this.retryLater(pending));
  }

  private async forget(pending: PendingClose): Promise<void> {
    this.keeper.finishClose(pending.id);
    this.monotonicDeadlines.delete(pending.id);
    this.stopAttempts.delete(pending.id);
    this.failedStarts.delete(laneOf(pending.door, pending.source));
    if (!(await this.persist())) {
      this.ports.logger.error({ door: pending.door, source: pending.source }, 'the door was closed but the state file still lists it; its stop command will run again at the next start');
    }
    this.scheduleCloses();
  }

  /**
   * A stop command failed: the door stays recorded and the command is tried again, after 5 s doubling
   * to 10 minutes, for as long as it takes. Giving up would forget a door that may still be open.
   */
  private async retryLater(pending: PendingClose): Promise<void> {
    const attempts = (this.stopAttempts.get(pending.id) ?? 0) + 1;
    this.stopAttempts.set(pending.id, attempts);
    const { audit, clock, logger } = this.ports;
    if (this.stopping || this.closingAll) {
      audit.refused(clock.now(), pending.source, pending.door, 'stop command failed at exit; the door stays recorded and the next start tries again');
      this.keeper.retryClose(pending.id, clock.now());
      return;
    }
    const delay = Math.min(FIRST_STOP_RETRY_MS * 2 ** (attempts - 1), MAX_STOP_RETRY_MS);
    const retried = this.keeper.retryClose(pending.id, clock.now() + delay);
    if (retried === undefined) return;
    if (retried.id !== pending.id) {
      // A newer open of the same door for the same source runs this very stop command later.
      await this.forget(pending);
      return;
    }
    this.trackMonotonic(retried);
    if (attempts >= STOP_ATTEMPTS_BEFORE_ALARM) {
      logger.error({ door: pending.door, source: pending.source, attempts, stopCommand: pending.stopCommand }, 'the stop command keeps failing: THE DOOR MAY STILL BE OPEN');
    }
    audit.refused(clock.now(), pending.source, pending.door, `stop command failed (attempt ${attempts}); the door stays recorded, trying again in ${Math.round(delay / 1000)} s`);
    await this.persist();
    this.scheduleCloses();
  }

  private within(work: Promise<void>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.timers.setTimeout(resolve, ms);
      void work.then(() => {
        this.timers.clearTimeout(timer);
        resolve();
      });
    });
  }
}

function succeeded(outcome: CommandOutcome): boolean {
  return outcome.exitCode === 0 && !outcome.timedOut;
}

function laneOf(door: string, source: string): string {
  return `${door}\n${source}`;
}

/** A pending close the state file would not give back must not open its door. */
function roundTrips(pending: PendingClose): boolean {
  const parsed = parseState(serializeState([pending]));
  return parsed.problems.length === 0 && parsed.pending.length === 1;
}
