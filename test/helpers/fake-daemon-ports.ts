import { pino } from 'pino';
import type { Config, Door, KnockEvent } from '../../src/core/types.js';
import { defaultOptions } from '../../src/core/types.js';
import { Audit } from '../../src/daemon/audit.js';
import { Daemon, type CommandOutcome, type DaemonPorts, type RestoredState } from '../../src/daemon/daemon.js';
import type { TimerHandle, Timers } from '../../src/core/timers.js';
import type { PendingClose } from '../../src/doors/door-keeper.js';
import type { SourceSink } from '../../src/sources/types.js';
import type { OneTimeLine } from '../../src/matcher/sequences.js';

/**
 * Manual clocks and timers: `advance(ms)` moves both clocks and fires due timers in order; nothing runs
 * on its own. Timers follow the monotonic clock, as real ones do, so `stepWall` (an NTP step) moves
 * only the wall clock.
 */
export class ManualTime {
  now = 1_700_000_000_000;
  monotonic = 0;
  private nextId = 1;
  private readonly pending = new Map<TimerHandle, { at: number; fn: () => void; every?: number }>();
  /** Awaited after each timer fires: the daemon's idle() once one is made with FakeWorld.daemon. */
  idle: () => Promise<void> = settle;

  readonly clock = { now: () => this.now };
  readonly timers: Timers = {
    setTimeout: (fn, ms) => this.add(fn, ms),
    clearTimeout: (id) => void this.pending.delete(id),
    setInterval: (fn, ms) => this.add(fn, ms, ms),
    clearInterval: (id) => void this.pending.delete(id),
  };

  stepWall(deltaMs: number): void {
    this.now += deltaMs;
  }

  private add(fn: () => void, ms: number, every?: number): number {
    const id = this.nextId++;
    this.pending.set(id, { at: this.monotonic + ms, fn, ...(every === undefined ? {} : { every }) });
    return id;
  }

  async advance(ms: number): Promise<void> {
    const end = this.monotonic + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, timer] = due;
      const step = Math.max(0, timer.at - this.monotonic);
      this.monotonic += step;
      this.now += step;
      if (timer.every) timer.at += timer.every;
      else this.pending.delete(id);
      timer.fn();
      await this.idle();
    }
    this.now += end - this.monotonic;
    this.monotonic = end;
    await this.idle();
  }
}

/**
 * Turns the event loop a few times. Only for tests whose fake command hangs on purpose, where the
 * daemon is never idle; everything else awaits FakeWorld.idle().
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface FakeWorld {
  ports: DaemonPorts;
  time: ManualTime;
  commands: string[];
  saved: PendingClose[][];
  lines: string[];
  /** Delivers a knock as the source would. */
  knock(event: Omit<KnockEvent, 'at'> & { at?: number }): void;
  failSaves: boolean;
  oneTimeMarked: { door: string; line: number }[];
  /** A Daemon on these ports whose idle() the world (and its clock) then awaits. */
  daemon(config: Config, restored?: RestoredState): Daemon;
  /** Settles once the daemon made with `daemon()` has decided and run everything queued. */
  idle(): Promise<void>;
}

export function fakeWorld(options: { outcome?: CommandOutcome } = {}): FakeWorld {
  const time = new ManualTime();
  const lines: string[] = [];
  let sink: SourceSink | undefined;
  const world: FakeWorld = {
    time,
    commands: [],
    saved: [],
    lines,
    failSaves: false,
    oneTimeMarked: [],
    knock: (event) => sink?.event({ ...event, at: event.at ?? time.now }),
    daemon: (config, restored) => {
      // What the store would have loaded: the records that follow build on it.
      for (const pending of restored?.pending ?? []) recorded.set(pending.id, { ...pending });
      const daemon = new Daemon(config, world.ports, restored);
      time.idle = () => daemon.idle();
      return daemon;
    },
    idle: () => time.idle(),
    ports: placeholderPorts,
  };
  const logger = pino({ level: 'silent' });
  const recorded = new Map<string, PendingClose>();
  world.ports = {
    clock: time.clock,
    monotonicNow: () => time.monotonic,
    logger,
    audit: new Audit(logger, [{ write: (_at, message) => lines.push(message) }], false),
    state: {
      // Replays each record, as a load would, and keeps the list after each save.
      record: async (change) => {
        if (world.failSaves) throw new Error('disk full');
        if ('opened' in change) recorded.set(change.opened.id, { ...change.opened });
        else recorded.delete(change.closed);
        world.saved.push([...recorded.values()].sort((a, b) => a.closesAt - b.closesAt));
      },
      saveUsedSteps: async () => {
        if (world.failSaves) throw new Error('disk full');
      },
    },
    runCommand: async (command) => {
      world.commands.push(command);
      return options.outcome ?? { exitCode: 0, signal: null, timedOut: false, stderr: '' };
    },
    commandTimeoutMs: 60_000,
    oneTime: {
      read: async () => [],
      markUsed: async (door: Door, line: OneTimeLine) => {
        world.oneTimeMarked.push({ door: door.name, line: line.line });
      },
    },
    deriver: { stepsAt: () => [], derive: () => [] },
    openSource: (_config, s) => {
      sink = s;
      return { start: async () => {}, close: async () => {} };
    },
    timers: time.timers,
  };
  return world;
}

/** Replaced at once by fakeWorld; only there so the world object can be built before its ports. */
const placeholderPorts = {} as DaemonPorts;

export function configWith(doors: Door[]): Config {
  return { file: '/etc/knockd.conf', options: { ...defaultOptions, stateDir: '/nonexistent' }, doors };
}
