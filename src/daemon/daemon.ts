import type { Logger } from 'pino';
import type { Clock, Config, Door, Family, KnockEvent } from '../core/types.js';
import { NfknockError, ErrorCodes } from '../core/errors.js';
import { substituteCommand } from '../config/substitute.js';
import { resolveStartCommand } from '../config/commands.js';
import { Matcher, type MatcherAction } from '../matcher/matcher.js';
import { SequenceBook, type OneTimeLine, type TimeSequenceDeriver, type Candidate } from '../matcher/sequences.js';
import type { KnockSource, SourceSink } from '../sources/types.js';
import { DoorKeeper, type PendingClose } from './door-keeper.js';
import type { Audit } from './audit.js';
import { Counters } from './counters.js';

/** How long SIGTERM waits for door operations in flight; the rest is on disk already. */
const STOP_GRACE_MS = 700;
const FIRST_RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
}

/** The edges the daemon drives; src/daemon/main.ts supplies the real ones, tests supply fakes. */
export interface DaemonPorts {
  clock: Clock;
  logger: Logger;
  audit: Audit;
  /** Persisted daemon state: pending closes and the time steps already used. */
  state: {
    load(): Promise<{ pending: PendingClose[]; usedSteps: Record<string, number[]>; problems: string[] }>;
    save(state: { pending: PendingClose[]; usedSteps: Record<string, number[]> }): Promise<void>;
  };
  /** Runs a shell command; `stop` commands are never refused. Rejects only when a start is refused. */
  runCommand(command: string, kind: 'start' | 'stop'): Promise<CommandOutcome>;
  commandTimeoutMs: number;
  oneTime: {
    /** Unused lines of a door's One_Time_Sequences file. */
    read(door: Door): Promise<OneTimeLine[]>;
    /** Comments out a used line, durably, before the door opens. */
    markUsed(door: Door, line: number): Promise<void>;
  };
  deriver: TimeSequenceDeriver;
  openSource(config: Config, sink: SourceSink): KnockSource;
  timers?: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout; setInterval: typeof setInterval; clearInterval: typeof clearInterval };
}

/**
 * Wires a source, the matcher and the door keeper. Door operations (persist, then run) are chained on
 * one promise so that an open and the close of the same door never interleave.
 */
export class Daemon {
  private config: Config;
  private readonly matcher: Matcher;
  private readonly keeper: DoorKeeper;
  private source: KnockSource | undefined;
  private serial: Promise<void> = Promise.resolve();
  private closeTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = FIRST_RESTART_DELAY_MS;
  readonly counters = new Counters();
  private readonly timers: NonNullable<DaemonPorts['timers']>;
  private readonly sequences: SequenceBook;

  constructor(
    config: Config,
    private readonly ports: DaemonPorts,
    restored: { pending: PendingClose[]; usedSteps: Record<string, number[]> } = { pending: [], usedSteps: {} },
  ) {
    this.config = config;
    this.timers = ports.timers ?? { setTimeout, clearTimeout, setInterval, clearInterval };
    this.sequences = new SequenceBook(ports.deriver);
    for (const [door, steps] of Object.entries(restored.usedSteps)) for (const step of steps) this.sequences.markStepUsed(door, step);
    this.keeper = new DoorKeeper(restored.pending);
    this.matcher = new Matcher(config.doors, {
      maxAttempts: config.options.maxAttempts,
      sequences: this.sequences,
      onAction: (action) => this.onAction(action),
    });
  }

  get openDoors(): PendingClose[] {
    return this.keeper.list();
  }

  get attemptCount(): number {
    return this.matcher.attemptCount;
  }

  /** Closes overdue doors, schedules the rest, loads one-time sequences, then starts reading knocks. */
  async start(): Promise<void> {
    await this.loadOneTimeSequences(this.config.doors);
    this.scheduleCloses();
    await this.closeDue();
    this.tickTimer = this.timers.setInterval(() => this.matcher.tick(this.ports.clock.now()), 1000);
    this.source = this.ports.openSource(this.config, this.sink());
    await this.source.start();
    this.ports.audit.started(this.ports.clock.now(), describeSource(this.config));
  }

  /** SIGHUP: the caller parsed the new config (a broken one never reaches here). */
  async reload(config: Config): Promise<void> {
    await this.loadOneTimeSequences(config.doors);
    const sourceChanged = describeSource(config) !== describeSource(this.config) || config.options.interface !== this.config.options.interface;
    if (sourceChanged) await this.switchSource(config);
    this.matcher.replaceDoors(config.doors);
    this.config = config;
    this.ports.audit.reloaded(this.ports.clock.now(), config.file);
  }

  /**
   * The old source must be closed first (the new one may bind the same NFLOG group). If the new one
   * cannot start (group taken, file missing), the old one is opened again and the reload refused:
   * a bad reload must never leave the daemon deaf with every door shut for good.
   */
  private async switchSource(config: Config): Promise<void> {
    await this.source?.close();
    this.source = undefined;
    const next = this.ports.openSource(config, this.sink());
    try {
      await next.start();
    } catch (error) {
      await next.close().catch(() => undefined);
      await this.loadOneTimeSequences(this.config.doors).catch(() => undefined);
      const previous = this.ports.openSource(this.config, this.sink());
      await previous.start();
      this.source = previous;
      throw error;
    }
    this.source = next;
  }

  /**
   * SIGTERM: stop reading, run nothing new, let running operations finish, persist. Open doors stay
   * recorded so the next start closes them on time, unless `closeAll` asks to close them now.
   */
  async stop(options: { closeAll?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.tickTimer) this.timers.clearInterval(this.tickTimer);
    if (this.closeTimer) this.timers.clearTimeout(this.closeTimer);
    if (this.restartTimer) this.timers.clearTimeout(this.restartTimer);
    await this.source?.close().catch((error: unknown) => this.ports.logger.warn({ err: error }, 'closing the source failed'));
    if (options.closeAll) {
      await this.serial;
      await this.enqueue(() => this.closeDoors(this.keeper.takeAll()));
    } else {
      // Every open is persisted before its command runs, so exiting while a door command still runs
      // loses nothing: stop waiting after a moment instead of for the whole --command-timeout.
      await this.within(this.serial, STOP_GRACE_MS);
    }
    this.ports.audit.stopping(this.ports.clock.now());
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

  private sink(): SourceSink {
    return {
      event: (event: KnockEvent) => {
        if (this.stopping) return;
        this.counters.events++;
        this.matcher.feed(event);
      },
      reject: (reason, detail) => {
        this.counters.reject(reason);
        this.ports.logger.debug({ reason, detail }, 'input dropped');
      },
      overrun: (what, lost) => {
        this.counters.overruns++;
        this.ports.logger.warn({ what, lost }, 'the kernel dropped knock events before we read them (receive buffer overrun)');
      },
      trouble: (error) => {
        this.ports.logger.warn({ code: error.code, err: error }, error.message);
      },
      failed: (error) => {
        this.ports.logger.error({ code: error.code, err: error }, `${error.message}: reopening the source`);
        this.scheduleSourceRestart();
      },
    };
  }

  /** Reopens a failed source with backoff (1 s doubling to 30 s): a daemon that reads nothing protects nothing. */
  private scheduleSourceRestart(): void {
    if (this.stopping || this.restartTimer) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    this.restartTimer = this.timers.setTimeout(() => {
      this.restartTimer = undefined;
      void this.restartSource();
    }, delay);
  }

  private async restartSource(): Promise<void> {
    if (this.stopping) return;
    const { logger } = this.ports;
    await this.source?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the failed source failed'));
    this.source = undefined;
    const next = this.ports.openSource(this.config, this.sink());
    try {
      await next.start();
    } catch (error) {
      logger.error({ err: error }, 'reopening the source failed; trying again');
      await next.close().catch(() => undefined);
      this.scheduleSourceRestart();
      return;
    }
    if (this.stopping) {
      await next.close();
      return;
    }
    this.source = next;
    this.restartDelayMs = FIRST_RESTART_DELAY_MS;
    this.counters.sourceRestarts++;
    logger.warn('source reopened; knocks sent while it was down were not seen');
  }

  private onAction(action: MatcherAction): void {
    const audit = this.ports.audit;
    switch (action.kind) {
      case 'stage':
        audit.stage(action.at, action.source, action.door.name, action.stage);
        return;
      case 'broken':
        audit.broken(action.at, action.source, action.door.name, action.stage, action);
        return;
      case 'expire':
        audit.timedOut(action.at, action.source, action.door.name, action.stage);
        return;
      case 'evict':
        this.counters.evictions++;
        return;
      case 'replay':
        audit.replay(action.at, action.source, action.door.name, action.sequence.id);
        return;
      case 'open':
        if (this.stopping) return;
        // knockd logs a Stage line for the last knock too, then OPEN SESAME.
        audit.stage(action.at, action.source, action.door.name, action.sequence.steps.length);
        audit.open(action.at, action.source, action.door.name, action.sequence.id);
        void this.enqueue(() => this.openDoor(action.door, action.source, action.family, action.at, action.sequence));
        return;
    }
  }

  private enqueue(operation: () => Promise<void>): Promise<void> {
    const run = this.serial.then(operation).catch((error: unknown) => {
      this.ports.logger.error({ err: error }, 'door operation failed');
    });
    this.serial = run;
    return run;
  }

  private async openDoor(door: Door, source: string, family: Family, at: number, sequence: Candidate): Promise<void> {
    const { audit, clock } = this.ports;
    // cmd_timeout runs from now, when the command runs, not from the knock's log stamp: a log source
    // may stamp lines up to a second early (rsyslog imkmsg), and a door must not close early.
    const plan = this.keeper.plan(door, source, family, Math.max(at, clock.now()));
    if (plan.kind === 'extend') {
      const previous = this.keeper.get(door.name, source);
      this.keeper.commit(plan.pending);
      if (!(await this.persist())) {
        this.keeper.rollback(plan.pending, previous);
        return;
      }
      audit.extended(clock.now(), source, door.name, plan.pending.closesAt);
      this.scheduleCloses();
      return;
    }
    if (sequence.line !== undefined && !(await this.consumeOneTimeLine(door, sequence.line, source))) return;
    if (plan.pending) {
      this.keeper.commit(plan.pending);
      if (!(await this.persist())) {
        this.keeper.rollback(plan.pending);
        audit.refused(clock.now(), source, door.name, 'the pending close could not be saved, so the door stays shut');
        return;
      }
    } else if (sequence.stepIndex !== undefined && !(await this.persist())) {
      audit.refused(clock.now(), source, door.name, 'the used time step could not be saved, so the door stays shut');
      return;
    }
    const start = resolveStartCommand(door, family);
    if (start !== undefined) await this.runLogged(substituteCommand(start, source), 'start', source, door.name);
    this.scheduleCloses();
  }

  private async consumeOneTimeLine(door: Door, line: number, source: string): Promise<boolean> {
    try {
      await this.ports.oneTime.markUsed(door, line);
    } catch (error) {
      this.ports.logger.error({ err: error, door: door.name, line }, 'could not mark the one-time sequence used');
      this.ports.audit.refused(this.ports.clock.now(), source, door.name, 'the used one-time sequence could not be marked, so the door stays shut');
      return false;
    }
    if (this.sequences.oneTimeRemaining(door.name) === 0) this.ports.audit.oneTimeExhausted(this.ports.clock.now(), door.name);
    return true;
  }

  private async runLogged(command: string, kind: 'start' | 'stop', source: string, door: string): Promise<void> {
    const { audit, clock } = this.ports;
    audit.running(clock.now(), source, door, command, kind);
    this.counters.commands++;
    try {
      const outcome = await this.ports.runCommand(command, kind);
      audit.commandResult(clock.now(), source, door, outcome, this.ports.commandTimeoutMs);
    } catch (error) {
      audit.refused(clock.now(), source, door, error instanceof Error ? error.message : String(error));
    }
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
    for (const door of this.config.doors) {
      if (!door.timeSequence) continue;
      const steps = this.sequences.usedStepsOf(door.name);
      if (steps.length > 0) result[door.name] = steps;
    }
    return result;
  }

  private scheduleCloses(): void {
    if (this.closeTimer) this.timers.clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    const next = this.keeper.nextDeadline();
    if (next === undefined || this.stopping) return;
    // setTimeout caps at 2^31-1 ms; a longer cmd_timeout simply re-arms.
    const delay = Math.min(Math.max(0, next - this.ports.clock.now()), 0x7fffffff);
    this.closeTimer = this.timers.setTimeout(() => void this.closeDue(), delay);
  }

  private closeDue(): Promise<void> {
    return this.enqueue(async () => {
      await this.closeDoors(this.keeper.takeDue(this.ports.clock.now()));
      this.scheduleCloses();
    });
  }

  /**
   * Runs stop commands, then forgets the doors. A crash between the two runs the stop command again at
   * the next start: closing twice is harmless, never closing is not.
   */
  private async closeDoors(due: PendingClose[]): Promise<void> {
    if (due.length === 0) return;
    const { audit, clock } = this.ports;
    await Promise.all(
      due.map(async (pending) => {
        audit.commandTimeout(clock.now(), pending.source, pending.door);
        audit.closing(clock.now(), pending.source, pending.door);
        await this.runLogged(pending.stopCommand, 'stop', pending.source, pending.door);
      }),
    );
    if (!(await this.persist())) {
      throw new NfknockError(ErrorCodes.STATE_IO, 'doors were closed but the state file still lists them; they will be closed again at the next start');
    }
  }

  private async loadOneTimeSequences(doors: readonly Door[]): Promise<void> {
    for (const door of doors) {
      if (door.oneTimeFile === undefined) continue;
      const lines = await this.ports.oneTime.read(door);
      this.sequences.setOneTimeLines(door.name, lines);
      if (lines.length === 0) this.ports.audit.oneTimeExhausted(this.ports.clock.now(), door.name);
    }
  }
}

function describeSource(config: Config): string {
  const { options } = config;
  const where = options.interface ? ` on ${options.interface}` : '';
  switch (options.source) {
    case 'nflog':
      return `NFLOG group ${options.nflogGroup} prefix "${options.logPrefix}"${where}`;
    case 'kmsg':
      return `/dev/kmsg prefix "${options.logPrefix}"${where}`;
    case 'file':
      return `${options.kernelLog ?? '(no KernelLog set)'} prefix "${options.logPrefix}"${where}`;
  }
}
