import { randomInt } from 'node:crypto';
import type { Config, KnockEvent } from '../core/types.js';
import { Matcher, type MatcherAction } from '../matcher/matcher.js';
import { SequenceBook, type TimeSequenceDeriver } from '../matcher/sequences.js';
import type { KnockSource, SourceSink } from '../sources/types.js';
import type { PendingClose } from '../doors/pending-close.js';
import { systemTimers, type TimerHandle, type Timers } from '../core/timers.js';
import { DoorService, type DoorPorts } from './door-service.js';
import { OneTimeDoors } from './one-time-doors.js';
import { Counters } from './counters.js';
import { formatSequence } from '../config/sequence.js';

export type { CommandOutcome } from './door-service.js';

/** How long SIGTERM waits for door decisions in flight; everything else is on disk already. */
const STOP_GRACE_MS = 700;
const FIRST_RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

/** What the state store gave back at start. */
export interface RestoredState {
  pending: PendingClose[];
  usedSteps: ReadonlyMap<string, readonly number[]>;
}

/** The edges the daemon drives; src/daemon/main.ts supplies the real ones, tests supply fakes. */
export interface DaemonPorts extends DoorPorts {
  deriver: TimeSequenceDeriver;
  openSource(config: Config, sink: SourceSink): KnockSource;
  timers?: Timers;
}

/**
 * Wires a source, the matcher and the door service, and owns the source's life: start, reload,
 * reopening after a failure, stop.
 */
export class Daemon {
  private config: Config;
  private readonly matcher: Matcher;
  private readonly doors: DoorService;
  private source: KnockSource | undefined;
  private tickTimer: TimerHandle | undefined;
  private stopping = false;
  private restartTimer: TimerHandle | undefined;
  private restartDelayMs = FIRST_RESTART_DELAY_MS;
  readonly counters = new Counters();
  private readonly timers: Timers;
  private readonly sequences: SequenceBook;
  private readonly oneTime: OneTimeDoors;

  constructor(
    config: Config,
    private readonly ports: DaemonPorts,
    restored: RestoredState = { pending: [], usedSteps: new Map() },
  ) {
    this.config = config;
    this.timers = ports.timers ?? systemTimers;
    this.sequences = new SequenceBook(ports.deriver);
    this.sequences.restoreUsedSteps(restored.usedSteps);
    this.oneTime = new OneTimeDoors(ports, this.sequences);
    this.doors = new DoorService(
      ports,
      { counters: this.counters, timers: this.timers, oneTime: this.oneTime, usedSteps: () => this.sequences.snapshotUsedSteps(this.config.doors) },
      restored.pending,
    );
    this.matcher = new Matcher(config.doors, {
      maxAttempts: config.options.maxAttempts,
      // Sources are chosen by whoever sends packets: an unpredictable seed keeps them off one hash chain.
      hashSeed: randomInt(0x7fffffff),
      sequences: this.sequences,
      // onAction uses each action before it returns and keeps none: the matcher may refill one object.
      reuseActions: true,
      onAction: (action) => this.onAction(action),
    });
  }

  get openDoors(): PendingClose[] {
    return this.doors.openDoors();
  }

  /** Settles once every decision queued so far is made and every command it started has run. */
  idle(): Promise<void> {
    return this.doors.idle();
  }

  /** The configuration in force (the last one a reload accepted). */
  get activeConfig(): Config {
    return this.config;
  }

  get attemptCount(): number {
    return this.matcher.attemptCount;
  }

  /**
   * Closes overdue doors and schedules the rest before anything else, then starts reading knocks. If
   * the source cannot start while doors are still to be closed, the daemon stays up to close them and
   * keeps trying the source; with nothing to close, the error ends the start.
   */
  async start(): Promise<void> {
    // Closing recorded doors comes first: nothing that fails below may keep them open.
    await this.doors.start();
    try {
      await this.oneTime.load(this.config.doors);
    } catch (error) {
      if (this.openDoors.length === 0) throw error;
      this.ports.logger.error({ err: error }, 'a one-time sequences file cannot be read: its door stays shut; staying up to close the open doors');
    }
    this.tickTimer = this.timers.setInterval(() => this.matcher.tick(this.ports.clock.now()), 1000);
    const source = this.ports.openSource(this.config, this.sink());
    try {
      await source.start();
    } catch (error) {
      await source.close().catch(() => undefined);
      if (this.openDoors.length === 0) {
        this.stopTimers();
        throw error;
      }
      this.ports.logger.error({ err: error, openDoors: this.openDoors.length }, 'the source cannot start; staying up to close the open doors, and trying the source again');
      this.scheduleSourceRestart();
      return;
    }
    this.source = source;
    this.ports.audit.started(this.ports.clock.now(), describeSource(this.config));
  }

  /** SIGHUP: the caller parsed the new config (a broken one never reaches here). Runs after pending decisions. */
  reload(config: Config): Promise<void> {
    return this.doors.exclusive(async () => {
      if (this.stopping) return;
      await this.oneTime.load(config.doors);
      const sourceChanged = describeSource(config) !== describeSource(this.config) || config.options.interface !== this.config.options.interface;
      if (sourceChanged && this.source) await this.switchSource(config);
      this.matcher.replaceDoors(config.doors);
      this.config = config;
      this.ports.audit.reloaded(this.ports.clock.now(), config.file);
    });
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
      if (this.stopping) {
        await next.close();
        return;
      }
    } catch (error) {
      await next.close().catch(() => undefined);
      await this.oneTime.load(this.config.doors).catch(() => undefined);
      const previous = this.ports.openSource(this.config, this.sink());
      await previous.start();
      this.source = previous;
      throw error;
    }
    this.source = next;
  }

  /**
   * SIGTERM: stop reading, decide nothing new, persist. Open doors stay recorded so the next start
   * closes them on time, unless `closeAll` asks to close them now.
   */
  async stop(options: { closeAll?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.stopTimers();
    await this.source?.close().catch((error: unknown) => this.ports.logger.warn({ err: error }, 'closing the source failed'));
    await this.doors.stop({ closeAll: options.closeAll === true, graceMs: STOP_GRACE_MS });
    this.ports.audit.stopping(this.ports.clock.now());
  }

  private stopTimers(): void {
    if (this.tickTimer !== undefined) this.timers.clearInterval(this.tickTimer);
    if (this.restartTimer !== undefined) this.timers.clearTimeout(this.restartTimer);
    this.tickTimer = undefined;
    this.restartTimer = undefined;
  }

  private sink(): SourceSink {
    return {
      event: (event: KnockEvent) => {
        if (this.stopping) return;
        this.counters.event(this.config.options.source, event.at);
        try {
          this.matcher.feed(event);
        } catch (error) {
          // A bug must cost this packet, never the rest of a batch or the source's read loop.
          this.counters.reject('internal-error');
          this.ports.logger.error({ err: error, source: event.source, port: event.port }, 'deciding a knock failed; the packet is skipped');
        }
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
    if (this.stopping || this.restartTimer !== undefined) return;
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
    const config = this.config;
    const next = this.ports.openSource(config, this.sink());
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
    if (config !== this.config) {
      // A reload came while we were opening the old config's source: open the new one instead.
      this.restartDelayMs = FIRST_RESTART_DELAY_MS;
      this.scheduleSourceRestart();
      return;
    }
    this.restartDelayMs = FIRST_RESTART_DELAY_MS;
    this.counters.sourceRestarts++;
    logger.warn('source (re)opened; knocks sent while it was down were not seen');
    this.ports.audit.started(this.ports.clock.now(), describeSource(this.config));
  }

  private onAction(action: MatcherAction): void {
    const audit = this.ports.audit;
    switch (action.kind) {
      // One action may stand for many doors (a shared first stage): a line per door, as knockd writes,
      // until the limiter refuses one; the rest of them would be refused too.
      case 'stage':
        for (const door of action.doors) if (!audit.stage(action.at, action.source, door.name, action.stage)) return;
        return;
      case 'broken':
        for (const door of action.doors) if (!audit.broken(action.at, action.source, door.name, action.stage, action)) return;
        return;
      case 'expire':
        for (const door of action.doors) if (!audit.timedOut(action.at, action.source, door.name, action.stage)) return;
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
        audit.open(action.at, action.source, action.door.name, action.sequence.id, action.sequence.line === undefined ? undefined : formatSequence(action.sequence.steps));
        this.doors.open(action.door, action.source, action.family, action.at, action.sequence);
        return;
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
