import { createHash } from 'node:crypto';
import { sameClose, type PendingClose } from './pending-close.js';
import { DeadlineHeap, type Deadline } from '../core/deadline-heap.js';

export type { PendingClose };

/**
 * Which doors are open for whom, and when each closes. Pure: the daemon records each change (the
 * state journal) and runs the commands; this only records (open-decision.ts decides). A door whose stop command is running stays listed (and so
 * persisted) until `finishClose`: a crash in between must run the stop command again, never forget it.
 */
export class DoorKeeper {
  /** Every door with a stop command still to run, by id. */
  private readonly byId = new Map<string, PendingClose>();
  /** The door open for (door, source) that is not closing yet: the one a re-knock extends. */
  private readonly openByKey = new Map<string, string>();
  private readonly closing = new Set<string>();
  /** closesAt of every commit; an entry whose door is gone, closing or moved is stale and skipped. */
  private readonly deadlines = new DeadlineHeap();
  private sequence = 0;

  constructor(restored: readonly PendingClose[] = []) {
    for (const pending of restored) this.commit(pending);
  }

  /** The door open for (door, source) and not closing yet: the one a re-knock extends. */
  openFor(door: string, source: string): PendingClose | undefined {
    const id = this.openByKey.get(keyOf(door, source));
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** A new pending close with a fresh id; not recorded until `commit`. */
  newPendingClose(fields: Omit<PendingClose, 'id'>): PendingClose {
    return { id: this.newId(fields.door, fields.source, fields.openedAt), ...fields };
  }

  /** Records a planned open (or extension); the caller records it in the state journal right after. */
  commit(pending: PendingClose): void {
    this.byId.set(pending.id, pending);
    this.deadlines.push(pending.closesAt, pending.id);
    if (!this.closing.has(pending.id)) this.openByKey.set(keyOf(pending.door, pending.source), pending.id);
  }

  /** Takes back a commit whose persistence failed, restoring what was there before. */
  rollback(pending: PendingClose, previous?: PendingClose): void {
    if (previous) {
      this.commit(previous);
      return;
    }
    this.byId.delete(pending.id);
    const key = keyOf(pending.door, pending.source);
    if (this.openByKey.get(key) === pending.id) this.openByKey.delete(key);
  }

  /**
   * Marks as closing, and returns, every door due at `now` (and those of `alsoDue`, ids due by another
   * clock), earliest first. They stay listed until `finishClose` or `retryClose`. O(log n) per door
   * taken: only the due deadlines are visited.
   */
  takeDue(now: number, alsoDue: Iterable<string> = []): PendingClose[] {
    const due: PendingClose[] = [];
    for (let top = this.deadlines.peek(); top !== undefined && top.at <= now; top = this.deadlines.peek()) {
      this.deadlines.pop();
      if (this.isCurrent(top)) this.markClosing(this.byId.get(top.id) as PendingClose, due);
    }
    for (const id of alsoDue) {
      const pending = this.byId.get(id);
      if (pending && !this.closing.has(id)) this.markClosing(pending, due);
    }
    return due.sort((a, b) => a.closesAt - b.closesAt);
  }

  /** Marks every open door as closing (closing all at exit, when asked to). */
  takeAll(): PendingClose[] {
    const all: PendingClose[] = [];
    for (const pending of this.list()) if (!this.closing.has(pending.id)) this.markClosing(pending, all);
    return all;
  }

  /** The stop command ran: forget the door. */
  finishClose(id: string): void {
    this.byId.delete(id);
    this.closing.delete(id);
  }

  /**
   * The stop command failed: keep the door and try again at `closesAt`. If the source has re-knocked
   * meanwhile, the newer open owns the key and this one stays a separate pending close.
   */
  retryClose(id: string, closesAt: number): PendingClose | undefined {
    const pending = this.byId.get(id);
    if (!pending) return undefined;
    this.closing.delete(id);
    const key = keyOf(pending.door, pending.source);
    const newer = this.openByKey.get(key);
    const newerPending = newer === undefined ? undefined : this.byId.get(newer);
    if (newerPending && sameClose(newerPending, pending)) {
      // The source knocked again meanwhile: the newer open will close exactly the same way, later.
      this.byId.delete(id);
      return newerPending;
    }
    const retried = { ...pending, closesAt };
    this.byId.set(id, retried);
    this.deadlines.push(closesAt, id);
    if (!this.openByKey.has(key)) this.openByKey.set(key, id);
    return retried;
  }

  isClosing(id: string): boolean {
    return this.closing.has(id);
  }

  /** The earliest deadline among doors not closing yet (O(log n) amortized). */
  nextDeadline(): number | undefined {
    return this.deadlines.earliest((entry) => this.isCurrent(entry))?.at;
  }

  /** The heap entry is still a door's deadline: the door is there, not closing, and closes then. */
  private isCurrent(entry: Deadline): boolean {
    const pending = this.byId.get(entry.id);
    return pending !== undefined && pending.closesAt === entry.at && !this.closing.has(entry.id);
  }

  /** What must be persisted: every door whose stop command has not completed. */
  list(): PendingClose[] {
    return [...this.byId.values()].sort((a, b) => a.closesAt - b.closesAt);
  }

  private markClosing(pending: PendingClose, into: PendingClose[]): void {
    into.push(pending);
    this.closing.add(pending.id);
    const key = keyOf(pending.door, pending.source);
    if (this.openByKey.get(key) === pending.id) this.openByKey.delete(key);
  }

  private newId(door: string, source: string, at: number): string {
    // Door names are free text; the state file wants a plain token, so the id digests what it names.
    const digest = createHash('sha256').update(`${door}\n${source}`).digest('hex').slice(0, 16);
    return `${at}-${digest}-${(this.sequence++).toString(36)}`;
  }
}

function keyOf(door: string, source: string): string {
  return `${door}\n${source}`;
}
