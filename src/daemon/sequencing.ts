/**
 * The orders the door service keeps. Decisions run one at a time (`SerialQueue`) so they never
 * interleave; a decision's save, and commands, run in the lane of their (door, source) (`Lanes`, one
 * set for each), so a start and the stop of the same door keep their order, the next decision for a
 * door and source waits for the previous one's save, and a slow save or a hung command delays nobody
 * else's door.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `operation` after everything queued before it; its errors reach the caller only. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.tail.then(operation);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Settles once everything queued so far has run. */
  drained(): Promise<void> {
    return this.tail;
  }
}

export class Lanes {
  private readonly lanes = new Map<string, Promise<void>>();

  constructor(private readonly onError: (error: unknown, lane: string) => void) {}

  /** Chains `work` after the previous work of the same lane. */
  run(lane: string, work: () => Promise<void>): Promise<void> {
    const previous = this.lanes.get(lane) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => this.onError(error, lane));
    this.lanes.set(lane, next);
    void next.then(() => {
      if (this.lanes.get(lane) === next) this.lanes.delete(lane);
    });
    return next;
  }

  /** The work still queued in these lanes. */
  busy(lanes: readonly string[]): Promise<void>[] {
    return lanes.map((lane) => this.lanes.get(lane)).filter((work): work is Promise<void> => work !== undefined);
  }

  /** The work still queued in every lane. */
  all(): Promise<void>[] {
    return [...this.lanes.values()];
  }
}

export function laneOf(door: string, source: string): string {
  return `${door}\n${source}`;
}
