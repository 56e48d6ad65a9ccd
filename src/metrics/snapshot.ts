/**
 * The daemon's figures at one instant, the one input of the Prometheus file and of stats.json.
 * Door figures come from the audit trail (the structured events docs/events.md lists), so the
 * metrics count exactly what the log says; the rest is read from the daemon when a snapshot is taken.
 * Nothing here is keyed or labelled by a knocker's address.
 */
import type { PendingClose } from '../state/state-format.js';

export type CommandKind = 'start' | 'stop';

export interface DoorFigures {
  opens: number;
  /** Stop commands that succeeded. */
  closes: number;
  /** Doors of this name with a stop command still to run (one per source). */
  open: number;
  replaysRefused: number;
  commandFailures: Record<CommandKind, number>;
  /** A stop command of this door failed and has not succeeded since: the door may still be open. */
  stopRetrying: boolean;
}

export interface MetricsSnapshot {
  version: string;
  pid: number;
  /** Epoch milliseconds. */
  startedAt: number;
  takenAt: number;
  /** The source kind reading knocks now (nflog, kmsg, file). */
  source: string;
  events: ReadonlyMap<string, number>;
  rejects: ReadonlyMap<string, number>;
  overruns: number;
  evictions: number;
  attemptsInProgress: number;
  doors: ReadonlyMap<string, DoorFigures>;
  lastEventAt: number | undefined;
  reload: { success: boolean; at: number };
  /** Taken as the daemon stopped: these figures are its last. */
  stopped: boolean;
}

/** A structured audit record: `event` plus the fields docs/events.md lists for it. */
export interface AuditRecord {
  event: string;
  [field: string]: unknown;
}

interface DoorTally {
  opens: number;
  closes: number;
  replaysRefused: number;
  commandFailures: Record<CommandKind, number>;
}

/**
 * Counts door activity from the audit records. The per-(door, source) set of failing stop commands
 * is internal: it is as large as the open doors at most, and only its door names are ever shown.
 */
export class DoorActivity {
  private readonly tallies = new Map<string, DoorTally>();
  private readonly failingStops = new Map<string, string>();
  private lastReload: { success: boolean; at: number };

  constructor(startedAt: number) {
    this.lastReload = { success: true, at: startedAt };
  }

  get reload(): { success: boolean; at: number } {
    return { ...this.lastReload };
  }

  observe(at: number, record: AuditRecord): void {
    const door = typeof record['door'] === 'string' ? record['door'] : undefined;
    switch (record.event) {
      case 'open':
        if (door !== undefined) this.tally(door).opens++;
        return;
      case 'replay':
        if (door !== undefined) this.tally(door).replaysRefused++;
        return;
      case 'command-result':
        if (door !== undefined) this.commandResult(door, record);
        return;
      case 'reload':
        this.lastReload = { success: true, at };
        return;
      case 'reload-refused':
        this.lastReload = { success: false, at: this.lastReload.at };
        return;
    }
  }

  /** Door names with a stop command that failed last time it ran. */
  retryingDoors(): Set<string> {
    return new Set(this.failingStops.values());
  }

  tallyOf(door: string): Readonly<DoorTally> | undefined {
    return this.tallies.get(door);
  }

  doorNames(): IterableIterator<string> {
    return this.tallies.keys();
  }

  private commandResult(door: string, record: AuditRecord): void {
    const kind: CommandKind = record['kind'] === 'stop' ? 'stop' : 'start';
    const failed = record['exitCode'] !== 0 || record['signal'] != null;
    if (failed) this.tally(door).commandFailures[kind]++;
    if (kind !== 'stop') return;
    // A door is closed when its stop command succeeds; a failing one is retried (and logged as
    // closing again), which must not count twice.
    if (!failed) this.tally(door).closes++;
    const lane = `${door}\n${String(record['source'])}`;
    if (failed) this.failingStops.set(lane, door);
    else this.failingStops.delete(lane);
  }

  private tally(door: string): DoorTally {
    let tally = this.tallies.get(door);
    if (!tally) {
      tally = { opens: 0, closes: 0, replaysRefused: 0, commandFailures: { start: 0, stop: 0 } };
      this.tallies.set(door, tally);
    }
    return tally;
  }
}

/** What the daemon itself tells (src/daemon/daemon.ts's Daemon has all of these). */
export interface DaemonFigures {
  counters: {
    eventsBySource: ReadonlyMap<string, number>;
    rejects: ReadonlyMap<string, number>;
    overruns: number;
    evictions: number;
    lastEventAt: number | undefined;
  };
  attemptCount: number;
  openDoors: readonly PendingClose[];
}

export interface SnapshotContext {
  version: string;
  pid: number;
  startedAt: number;
  now: number;
  source: string;
  /** The configured doors: each has its series from the start, at 0, so rate() sees the first open. */
  configuredDoors: readonly string[];
  stopped?: boolean;
}

/** Pure: the figures of one instant. Cost: O(doors + open doors), once per write, never per packet. */
export function takeSnapshot(daemon: DaemonFigures, activity: DoorActivity, context: SnapshotContext): MetricsSnapshot {
  const openByDoor = new Map<string, number>();
  for (const pending of daemon.openDoors) openByDoor.set(pending.door, (openByDoor.get(pending.door) ?? 0) + 1);
  const retrying = activity.retryingDoors();
  const names = new Set<string>([...context.configuredDoors, ...activity.doorNames(), ...openByDoor.keys()]);
  const doors = new Map<string, DoorFigures>();
  for (const name of [...names].sort()) {
    const tally = activity.tallyOf(name);
    doors.set(name, {
      opens: tally?.opens ?? 0,
      closes: tally?.closes ?? 0,
      open: openByDoor.get(name) ?? 0,
      replaysRefused: tally?.replaysRefused ?? 0,
      commandFailures: { start: tally?.commandFailures.start ?? 0, stop: tally?.commandFailures.stop ?? 0 },
      stopRetrying: retrying.has(name),
    });
  }
  const events = new Map(daemon.counters.eventsBySource);
  if (!events.has(context.source)) events.set(context.source, 0);
  return {
    version: context.version,
    pid: context.pid,
    startedAt: context.startedAt,
    takenAt: context.now,
    source: context.source,
    events,
    rejects: new Map(daemon.counters.rejects),
    overruns: daemon.counters.overruns,
    evictions: daemon.counters.evictions,
    attemptsInProgress: daemon.attemptCount,
    doors,
    lastEventAt: daemon.counters.lastEventAt,
    reload: activity.reload,
    stopped: context.stopped === true,
  };
}
