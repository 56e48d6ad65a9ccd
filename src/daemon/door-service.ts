import type { Logger } from 'pino';
import type { Clock, Door, Family } from '../core/types.js';
import type { Timers } from '../core/timers.js';
import type { CommandKind, CommandOutcome } from '../runner/command-queue.js';
import type { Candidate, OneTimeLine } from '../matcher/sequences.js';
import { DoorKeeper, type PendingClose } from '../doors/door-keeper.js';
import { decideOpen } from '../doors/open-decision.js';
import { survivesRoundTrip } from '../state/state-format.js';
import type { JournalRecord } from '../state/journal-format.js';
import type { FirewallCall } from '../firewall/operations.js';
import type { Audit } from './audit.js';
import type { Counters } from './counters.js';
import { CloseSchedule } from './close-schedule.js';
import { laneOf, Lanes, SerialQueue } from './sequencing.js';
import type { OneTimeDoors } from './one-time-doors.js';
import { FAILED_STOPS_WITH_EVIDENCE, ruleWasReset, type FirewallEpoch } from '../core/firewall-epoch.js';
import { DoorCommands, type ToRun } from './door-commands.js';

export type { CommandOutcome };

export interface DoorPorts {
  clock: Clock;
  /** Milliseconds from a clock that never jumps (performance.now); wall-clock steps must not delay a close. */
  monotonicNow?: () => number;
  logger: Logger;
  audit: Audit;
  state: {
    /** One decision (a pending close recorded or changed, or forgotten), on disk when it resolves. */
    record(change: JournalRecord): Promise<void>;
    /** The used time steps, on disk when it resolves; called after a time-based door's decision. */
    saveUsedSteps(usedSteps: Map<string, number[]>): Promise<void>;
  };
  /** Runs a shell command; `stop` commands are never refused, a refused `start` comes back as `{ refused }`. */
  runCommand(command: string, kind: CommandKind, about: { door: string; source: string }): Promise<CommandOutcome>;
  /** Runs nft/ipset for an `Open =` door without a shell, under the same bounds and refusals as commands. */
  runProgram?(call: FirewallCall, kind: CommandKind, about: { door: string; source: string }): Promise<CommandOutcome>;
  commandTimeoutMs: number;
  oneTime: {
    read(door: Door): Promise<OneTimeLine[]>;
    /** Comments out a used line, durably, before the door opens; fails if the line is not what was read. */
    markUsed(door: Door, line: OneTimeLine): Promise<void>;
  };
  /** The boot id and firewall generation now (src/daemon/firewall-epoch-reader.ts); absent: no evidence. */
  firewallEpoch?: () => FirewallEpoch;
}

export interface DoorServiceParts {
  counters: Counters;
  timers: Timers;
  oneTime: OneTimeDoors;
  /** The used time steps to persist after a time-based door's decision. */
  usedSteps(): Map<string, number[]>;
}

/** A failed stop command is tried again after 5 s, doubling up to 10 min; from this attempt on, loudly. */
const STOP_ATTEMPTS_BEFORE_ALARM = 5;
const FIRST_STOP_RETRY_MS = 5_000;
const MAX_STOP_RETRY_MS = 600_000;

/**
 * Carries out door decisions (src/doors/): sequencing (decisions one at a time, commands in the lane
 * of their (door, source)), close scheduling and stop retries. Every open is persisted before its
 * start command runs; every close is forgotten only after its stop command succeeded.
 *
 * A decision is made in the serial queue and its record handed to the state store there, but it
 * waits for the record to be on disk outside it, in the decision lane of its (door, source): the next
 * decision for another door does not wait for this one's save (and saves arriving together share one
 * fdatasync), while the next for the same door and source does, so that a failed save is undone
 * before anything builds on it. Its commands are queued in the command lane at decision time, behind
 * the save, so that a close decided meanwhile runs after them.
 */
export class DoorService {
  private readonly keeper: DoorKeeper;
  private readonly serial = new SerialQueue();
  private readonly lanes: Lanes;
  /** Per (door, source): a decision's save in flight; the next decision for the same pair waits for it. */
  private readonly decisions: Lanes;
  private readonly schedule: CloseSchedule;
  private readonly commands: DoorCommands;
  private stopping = false;
  private closingAll = false;
  private readonly stopAttempts = new Map<string, number>();
  /** (door, source) whose last start command failed: a re-knock runs it again. */
  private readonly failedStarts = new Set<string>();

  constructor(
    private readonly ports: DoorPorts,
    private readonly parts: DoorServiceParts,
    restored: readonly PendingClose[],
  ) {
    this.keeper = new DoorKeeper(restored);
    this.commands = new DoorCommands(ports, parts.counters);
    this.lanes = new Lanes((error, lane) => ports.logger.error({ err: error, lane }, 'door command failed'));
    this.decisions = new Lanes((error, lane) => ports.logger.error({ err: error, lane }, 'door operation failed'));
    this.schedule = new CloseSchedule(ports.clock, ports.monotonicNow ?? (() => performance.now()), parts.timers, () => void this.closeDue());
    for (const pending of restored) this.schedule.track(pending);
  }

  /** Every door with a stop command still to run, earliest first. */
  openDoors(): PendingClose[] {
    return this.keeper.list();
  }

  /** Runs `operation` after every decision queued before it; its errors reach the caller. */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    return this.serial.run(operation);
  }

  /** Settles once no decision is queued and no command is running (tests await it; so does closing). */
  async idle(): Promise<void> {
    for (;;) {
      const decisions = this.serial.drained();
      await Promise.all([decisions, ...this.lanes.all(), ...this.decisions.all()]);
      // Commands queue decisions (forgetting a closed door) and decisions queue commands: go again
      // until a round found nothing new.
      if (this.serial.drained() === decisions && this.lanes.all().length === 0 && this.decisions.all().length === 0) return;
    }
  }

  open(door: Door, source: string, family: Family, at: number, sequence: Candidate): void {
    if (this.stopping) return;
    // A one-time line is burnt before the decision, even when the door is already open for this
    // source (or it would stay usable in the file after a restart). It waits in the decision lane of
    // its (door, source) only: its write and fdatasync hold up no other door's decision.
    void this.decisions.run(laneOf(door.name, source), async () => {
      if (sequence.line !== undefined && !(await this.parts.oneTime.burn(door, sequence, source))) return;
      const decided = await this.exclusive(() => this.openDoor(door, source, family, at, sequence));
      await decided?.saved;
    });
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
      // A line already burnt opens its door first, so that the close below closes it too.
      await Promise.all(this.decisions.all());
      const closes = await this.exclusive(async () => this.closeDoors(this.keeper.takeAll()));
      // Doors already closing when we stopped are waited for too; unrelated hung starts are not.
      await Promise.all([...closes, ...this.lanes.busy(this.keeper.list().map((p) => laneOf(p.door, p.source)))]);
      await this.serial.drained();
      await Promise.all(this.decisions.all());
    } else {
      await this.within(Promise.all([this.serial.drained(), ...this.decisions.all()]).then(() => undefined), options.graceMs);
    }
    this.stopping = true;
    this.schedule.disarm();
  }

  /** Decides; `saved` settles once the decision is on disk (or undone). Returned wrapped: the serial queue must not wait for it. */
  private async openDoor(door: Door, source: string, family: Family, at: number, sequence: Candidate): Promise<{ saved: Promise<boolean> } | undefined> {
    const { audit, clock } = this.ports;
    // cmd_timeout runs from now, when the command runs, not from the knock's log stamp: a log source
    // may stamp lines up to a second early (rsyslog imkmsg), and a door must not close early.
    const decision = decideOpen(this.keeper, door, source, family, Math.max(at, clock.now()));
    const lane = laneOf(door.name, source);
    const timeStep = sequence.stepIndex !== undefined;
    if (decision.effect === 'extend') {
      // A reboot or firewall load since the open removed its rule: the re-knock must open it again.
      const reset = this.resetSince(decision.previous) !== undefined;
      const pending = reset ? this.stamped(decision.pending) : decision.pending;
      const rerun = this.failedStarts.has(lane) || reset;
      this.keeper.commit(pending);
      this.schedule.track(pending);
      const saved = this.persist({ opened: pending }, timeStep).then((ok) => {
        if (!ok) {
          this.keeper.rollback(pending, decision.previous);
          this.schedule.track(decision.previous);
          this.scheduleCloses();
          return false;
        }
        audit.extended(clock.now(), source, door.name, pending.closesAt);
        return true;
      });
      if (rerun) this.runStart(door.name, source, decision, saved);
      else if (decision.openCall) this.renewKernelTimeout(door.name, source, decision.openCall, saved);
      return { saved };
    }
    if (decision.pending) {
      const pending = this.stamped(decision.pending);
      if (!survivesRoundTrip(pending)) {
        audit.refused(clock.now(), source, door.name, 'its stop command or name could not be saved and read back from the state file, so the door stays shut');
        return undefined;
      }
      this.keeper.commit(pending);
      this.schedule.track(pending);
      const saved = this.persist({ opened: pending }, timeStep).then((ok) => {
        if (ok) return true;
        this.keeper.rollback(pending);
        this.schedule.forget(pending.id);
        this.scheduleCloses();
        audit.refused(clock.now(), source, door.name, 'the pending close could not be saved, so the door stays shut');
        return false;
      });
      this.runStart(door.name, source, decision, saved);
      this.scheduleClose(pending);
      return { saved };
    }
    if (!timeStep) {
      this.runStart(door.name, source, decision, Promise.resolve(true));
      return undefined;
    }
    const saved = this.persist(undefined, true).then((ok) => {
      if (!ok) audit.refused(clock.now(), source, door.name, 'the used time step could not be saved, so the door stays shut');
      return ok;
    });
    this.runStart(door.name, source, decision, saved);
    return { saved };
  }

  /** The kernel entries (an `Open =` door), then the start command, in the door's lane, once `saved`. */
  private runStart(door: string, source: string, toRun: ToRun, saved: Promise<boolean>): void {
    if (toRun.openCall === undefined && toRun.startCommand === undefined) return;
    const lane = laneOf(door, source);
    void this.lanes.run(lane, async () => {
      if (!(await saved)) return;
      if (await this.commands.open(door, source, toRun)) this.failedStarts.delete(lane);
      else this.failedStarts.add(lane);
    });
  }

  /** A re-knock while open: the kernel entries get the full cmd_timeout again (issue 13). */
  private renewKernelTimeout(door: string, source: string, openCall: FirewallCall, saved: Promise<boolean>): void {
    void this.lanes.run(laneOf(door, source), async () => {
      if (await saved) await this.commands.open(door, source, { openCall });
    });
  }

  /** Records one change (O(1) bytes), then the used time steps when a time-based door decided. */
  private async persist(change: JournalRecord | undefined, timeStep = false): Promise<boolean> {
    try {
      if (change) await this.ports.state.record(change);
      if (timeStep) await this.ports.state.saveUsedSteps(this.parts.usedSteps());
      return true;
    } catch (error) {
      this.ports.logger.error({ err: error }, 'saving the state failed');
      return false;
    }
  }

  /** Waits for a save in the decision lane of its door, so that idle() and stop() wait for it too. */
  private settleInLane(pending: PendingClose, saved: Promise<boolean>, onFailure: () => void): void {
    void this.decisions.run(laneOf(pending.door, pending.source), async () => {
      if (!(await saved)) onFailure();
    });
  }

  /** A new deadline: the timer moves only if it falls before the one armed (an open must not walk every door). */
  private scheduleClose(pending: PendingClose): void {
    if (this.stopping) this.schedule.disarm();
    else this.schedule.armEarlier(pending);
  }

  private scheduleCloses(): void {
    if (this.stopping) {
      this.schedule.disarm();
      return;
    }
    this.schedule.arm(this.keeper.nextDeadline());
  }

  private closeDue(): Promise<void> {
    return this.exclusive(async () => {
      const due = this.keeper.takeDue(this.ports.clock.now(), this.schedule.dueByMonotonicClock());
      // Closing: their deadlines are done (a failed stop tracks the retry's).
      for (const pending of due) this.schedule.forget(pending.id);
      this.closeDoors(due);
      this.scheduleCloses();
    }).catch((error: unknown) => {
      this.ports.logger.error({ err: error }, 'closing doors failed');
      this.scheduleCloses();
    });
  }

  /**
   * Closes each door in its lane (kernel entries, then stop command), then forgets it and persists. A
   * crash before that persist closes it again at the next start: closing twice is harmless, never
   * closing is not. A close that fails keeps its door and is tried again with backoff.
   */
  private closeDoors(due: PendingClose[]): Promise<void>[] {
    const { audit, clock } = this.ports;
    return due.map((pending) => {
      audit.commandTimeout(clock.now(), pending.source, pending.door);
      audit.closing(clock.now(), pending.source, pending.door);
      return this.lanes.run(laneOf(pending.door, pending.source), () => this.runStop(pending));
    });
  }

  private async runStop(pending: PendingClose): Promise<void> {
    if (await this.commands.close(pending)) return this.exclusive(async () => this.forget(pending));
    // Closing everything at exit: no later retry will come, so try again now (twice at most).
    if (this.closingAll && (this.stopAttempts.get(pending.id) ?? 0) < 2) {
      this.stopAttempts.set(pending.id, (this.stopAttempts.get(pending.id) ?? 0) + 1);
      return this.runStop(pending);
    }
    return this.exclusive(() => this.retryLater(pending));
  }

  /** The timer needs no new deadline: the one armed is for a door still open, or fires early and re-arms. */
  private forget(pending: PendingClose): void {
    this.keeper.finishClose(pending.id);
    this.schedule.forget(pending.id);
    this.stopAttempts.delete(pending.id);
    this.failedStarts.delete(laneOf(pending.door, pending.source));
    this.settleInLane(pending, this.persist({ closed: pending.id }), () => {
      this.ports.logger.error({ door: pending.door, source: pending.source }, 'the door was closed but the state file still lists it; its stop command will run again at the next start');
    });
    if (this.stopping) this.schedule.disarm();
  }

  /**
   * A stop command failed: the door stays recorded and the command is tried again, after 5 s doubling
   * to 10 minutes, for as long as it takes. Giving up would forget a door that may still be open.
   */
  private async retryLater(pending: PendingClose): Promise<void> {
    const attempts = (this.stopAttempts.get(pending.id) ?? 0) + 1;
    this.stopAttempts.set(pending.id, attempts);
    const { audit, clock, logger } = this.ports;
    const reset = attempts >= FAILED_STOPS_WITH_EVIDENCE ? this.resetSince(pending) : undefined;
    if (reset !== undefined) {
      logger.warn({ door: pending.door, source: pending.source, attempts, stopCommand: pending.stopCommand }, `the stop command failed, but ${reset}: the rule it removes is gone, so the door counts as closed`);
      audit.refused(clock.now(), pending.source, pending.door, `stop command failed, but ${reset}; the door counts as closed`);
      this.forget(pending);
      return;
    }
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
      this.forget(pending);
      return;
    }
    this.schedule.track(retried);
    if (attempts >= STOP_ATTEMPTS_BEFORE_ALARM) {
      logger.error({ door: pending.door, source: pending.source, attempts, stopCommand: pending.stopCommand, open: pending.open }, 'the close (kernel entry removal or stop command) keeps failing: THE DOOR MAY STILL BE OPEN');
    }
    audit.refused(clock.now(), pending.source, pending.door, `stop command failed (attempt ${attempts}); the door stays recorded, trying again in ${Math.round(delay / 1000)} s`);
    this.settleInLane(retried, this.persist({ opened: retried }), () => undefined);
    this.scheduleCloses();
  }

  /** The pending close with the boot and firewall generation it opens under. */
  private stamped(pending: PendingClose): PendingClose {
    const firewall = this.ports.firewallEpoch?.();
    return firewall && (firewall.bootId !== undefined || firewall.generation !== undefined) ? { ...pending, firewall } : pending;
  }

  private resetSince(pending: PendingClose): string | undefined {
    return this.ports.firewallEpoch ? ruleWasReset(pending.firewall, this.ports.firewallEpoch()) : undefined;
  }

  private within(work: Promise<void>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.parts.timers.setTimeout(resolve, ms);
      void work.then(() => {
        this.parts.timers.clearTimeout(timer);
        resolve();
      });
    });
  }
}
