import { createHash } from 'node:crypto';
import type { Door, Family } from '../core/types.js';
import { substituteCommand } from '../config/substitute.js';
import { resolveStopCommand } from '../config/commands.js';
import type { PendingClose } from '../runner/state-format.js';

export type { PendingClose };

export type OpenPlan =
  /** Run the start command; with `pending`, persist it first. */
  | { kind: 'start'; pending?: PendingClose }
  /** Already open for this source: the deadline moved, nothing runs. */
  | { kind: 'extend'; pending: PendingClose; previousClosesAt: number };

/**
 * Which doors are open for whom, and when each closes. Pure: the daemon persists `list()` and runs
 * the commands; this only decides.
 */
export class DoorKeeper {
  private readonly open = new Map<string, PendingClose>();

  constructor(restored: readonly PendingClose[] = []) {
    for (const pending of restored) this.open.set(keyOf(pending.door, pending.source), pending);
  }

  plan(door: Door, source: string, family: Family, at: number): OpenPlan {
    const existing = this.open.get(keyOf(door.name, source));
    if (existing) {
      const previousClosesAt = existing.closesAt;
      const pending = { ...existing, closesAt: Math.max(existing.closesAt, at + door.cmdTimeoutMs) };
      return { kind: 'extend', pending, previousClosesAt };
    }
    const stop = resolveStopCommand(door, family);
    if (stop === undefined) return { kind: 'start' };
    return {
      kind: 'start',
      pending: {
        id: pendingCloseId(door.name, source, at),
        door: door.name,
        source,
        family,
        stopCommand: substituteCommand(stop, source),
        openedAt: at,
        closesAt: at + door.cmdTimeoutMs,
      },
    };
  }

  /** Records a planned open (or extension); the caller persists `list()` right after. */
  commit(pending: PendingClose): void {
    this.open.set(keyOf(pending.door, pending.source), pending);
  }

  /** Takes back a commit whose persistence failed, restoring what was there before. */
  rollback(pending: PendingClose, previous?: PendingClose): void {
    const key = keyOf(pending.door, pending.source);
    if (previous) this.open.set(key, previous);
    else if (this.open.get(key)?.id === pending.id) this.open.delete(key);
  }

  get(doorName: string, source: string): PendingClose | undefined {
    return this.open.get(keyOf(doorName, source));
  }

  /** Removes and returns every door whose close is due at `now`, earliest first. */
  takeDue(now: number): PendingClose[] {
    const due = [...this.open.values()].filter((pending) => pending.closesAt <= now).sort((a, b) => a.closesAt - b.closesAt);
    for (const pending of due) this.open.delete(keyOf(pending.door, pending.source));
    return due;
  }

  /** Removes and returns every open door (closing all at exit, when asked to). */
  takeAll(): PendingClose[] {
    const all = this.list();
    this.open.clear();
    return all;
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const pending of this.open.values()) if (next === undefined || pending.closesAt < next) next = pending.closesAt;
    return next;
  }

  list(): PendingClose[] {
    return [...this.open.values()].sort((a, b) => a.closesAt - b.closesAt);
  }
}

function keyOf(door: string, source: string): string {
  return `${door}\n${source}`;
}

/** Door names are free text; the state file wants a plain token, so the id is a digest of what it names. */
function pendingCloseId(door: string, source: string, at: number): string {
  return `${at}-${createHash('sha256').update(`${door}\n${source}`).digest('hex').slice(0, 16)}`;
}
