import type { Clock } from '../core/types.js';
import type { TimerHandle, Timers } from '../core/timers.js';
import type { PendingClose } from '../doors/pending-close.js';
import { DeadlineHeap } from '../core/deadline-heap.js';

/**
 * When to run the next stop command. Each deadline is kept on two clocks: the wall clock (persisted,
 * survives a restart) and a monotonic one (in memory), and a door closes at whichever comes first, so
 * a wall-clock step (NTP, a bad RTC) can never keep a door open longer than its cmd_timeout. Both
 * are kept in deadline heaps (the wall clock's by DoorKeeper), so no close walks every open door.
 */
export class CloseSchedule {
  private readonly monotonicDeadlines = new Map<string, number>();
  /** The same deadlines, earliest first; an entry the map no longer holds is stale. */
  private readonly monotonicHeap = new DeadlineHeap();
  private timer: TimerHandle | undefined;
  /** When the armed timer fires, on the monotonic clock. */
  private firesAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly monotonicNow: () => number,
    private readonly timers: Timers,
    private readonly onDue: () => void,
  ) {}

  track(pending: PendingClose): void {
    const deadline = this.monotonicNow() + Math.max(0, pending.closesAt - this.clock.now());
    this.monotonicDeadlines.set(pending.id, deadline);
    this.monotonicHeap.push(deadline, pending.id);
  }

  /** The door is closing or closed: its deadline no longer counts (a retry tracks it again). */
  forget(id: string): void {
    this.monotonicDeadlines.delete(id);
  }

  /** For DoorKeeper.takeDue: the doors due by the monotonic clock, whatever the wall clock says. */
  dueByMonotonicClock(): string[] {
    const now = this.monotonicNow();
    const due: string[] = [];
    for (let top = this.monotonicHeap.peek(); top !== undefined && top.at <= now; top = this.monotonicHeap.peek()) {
      this.monotonicHeap.pop();
      if (this.monotonicDeadlines.get(top.id) === top.at) due.push(top.id);
    }
    return due;
  }

  /** Arms the timer for the earliest deadline: `nextWallDeadline` (DoorKeeper.nextDeadline) or a monotonic one; none disarms it. */
  arm(nextWallDeadline: number | undefined): void {
    this.disarm();
    const monotonicNow = this.monotonicNow();
    const byWall = nextWallDeadline === undefined ? Infinity : nextWallDeadline - this.clock.now();
    const earliest = this.monotonicHeap.earliest((entry) => this.monotonicDeadlines.get(entry.id) === entry.at);
    const delay = Math.min(byWall, earliest === undefined ? Infinity : earliest.at - monotonicNow);
    if (delay === Infinity) return;
    this.armIn(delay, monotonicNow);
  }

  /** Moves the timer earlier if `pending` falls due before it fires: O(1), unlike `arm`. */
  armEarlier(pending: PendingClose): void {
    const monotonicNow = this.monotonicNow();
    const byWall = pending.closesAt - this.clock.now();
    const byMonotonic = (this.monotonicDeadlines.get(pending.id) ?? Infinity) - monotonicNow;
    const delay = Math.min(byWall, byMonotonic);
    if (this.timer !== undefined && monotonicNow + Math.max(0, delay) >= this.firesAt) return;
    this.disarm();
    this.armIn(delay, monotonicNow);
  }

  private armIn(delay: number, monotonicNow: number): void {
    // setTimeout caps at 2^31-1 ms; a longer cmd_timeout simply re-arms.
    const ms = Math.min(Math.max(0, delay), 0x7fffffff);
    this.firesAt = monotonicNow + ms;
    this.timer = this.timers.setTimeout(this.onDue, ms);
  }

  disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.firesAt = Infinity;
  }
}
