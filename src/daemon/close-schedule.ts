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
    // setTimeout caps at 2^31-1 ms; a longer cmd_timeout simply re-arms.
    this.timer = this.timers.setTimeout(this.onDue, Math.min(Math.max(0, delay), 0x7fffffff));
  }

  disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
