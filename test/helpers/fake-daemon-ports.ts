import { pino } from 'pino';
import type { Config, Door, KnockEvent } from '../../src/core/types.js';
import { defaultOptions } from '../../src/core/types.js';
import { Audit } from '../../src/daemon/audit.js';
import type { CommandOutcome, DaemonPorts } from '../../src/daemon/daemon.js';
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
  private readonly pending = new Map<number, { at: number; fn: () => void; every?: number }>();

  readonly clock = { now: () => this.now };
  readonly timers = {
    setTimeout: ((fn: () => void, ms: number) => this.add(fn, ms)) as unknown as typeof setTimeout,
    clearTimeout: ((id: number) => this.pending.delete(id)) as unknown as typeof clearTimeout,
    setInterval: ((fn: () => void, ms: number) => this.add(fn, ms, ms)) as unknown as typeof setInterval,
    clearInterval: ((id: number) => this.pending.delete(id)) as unknown as typeof clearInterval,
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
      await settle();
    }
    this.now += end - this.monotonic;
    this.monotonic = end;
    await settle();
  }
}

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
    ports: undefined as unknown as DaemonPorts,
  };
  const logger = pino({ level: 'silent' });
  world.ports = {
    clock: time.clock,
    monotonicNow: () => time.monotonic,
    logger,
    audit: new Audit(logger, [{ write: (_at, message) => lines.push(message) }], false),
    state: {
      save: async ({ pending }) => {
        if (world.failSaves) throw new Error('disk full');
        world.saved.push(pending.map((p) => ({ ...p })));
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

export function configWith(doors: Door[]): Config {
  return { file: '/etc/knockd.conf', options: { ...defaultOptions, stateDir: '/nonexistent' }, doors };
}
