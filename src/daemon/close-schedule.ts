import type { Clock } from '../core/types.js';
import type { TimerHandle, Timers } from '../core/timers.js';
import type { PendingClose } from '../doors/pending-close.js';

/**
 * When to run the next stop command. Each deadline is kept on two clocks: the wall clock (persisted,
 * survives a restart) and a monotonic one (in memory), and a door closes at whichever comes first, so
 * a wall-clock step (NTP, a bad RTC) can never keep a door open longer than its cmd_timeout.
 */
export class CloseSchedule {
  private readonly monotonicDeadlines = new Map<string, number>();
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
    this.monotonicDeadlines.set(pending.id, this.monotonicNow() + Math.max(0, pending.closesAt - this.clock.now()));
  }

  forget(id: string): void {
    this.monotonicDeadlines.delete(id);
  }

  /** The predicate for DoorKeeper.takeDue: due by the monotonic clock, whatever the wall clock says. */
  dueByMonotonicClock(): (pending: PendingClose) => boolean {
    const now = this.monotonicNow();
    return (pending) => (this.monotonicDeadlines.get(pending.id) ?? Infinity) <= now;
  }

  /** Arms the timer for the earliest of `waiting` (the doors not closing yet); none disarms it. */
  arm(waiting: Iterable<PendingClose>): void {
    this.disarm();
    const now = this.clock.now();
    const monotonicNow = this.monotonicNow();
    let delay: number | undefined;
    for (const pending of waiting) {
      const byWall = pending.closesAt - now;
      const byMonotonic = (this.monotonicDeadlines.get(pending.id) ?? Infinity) - monotonicNow;
      const due = Math.min(byWall, byMonotonic);
      if (delay === undefined || due < delay) delay = due;
    }
    if (delay === undefined) return;
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
