import type { RejectReason } from '../core/reject-reasons.js';

/** What the daemon read and dropped, for status output, metrics, benchmarks and the shutdown summary. */
export class Counters {
  events = 0;
  overruns = 0;
  evictions = 0;
  commands = 0;
  sourceRestarts = 0;
  readonly rejects = new Map<RejectReason, number>();
  /**
   * `event` runs for every packet of a flood, so it only adds to plain fields: the current source
   * kind's count lives in `kindEvents` (a Map update per event cost ~50 ns, a tenth of the budget).
   * Earlier kinds (a reload may switch the source) keep their counts, in first-seen order, here.
   */
  private readonly kinds = new Map<string, number>();
  private kind = '';
  private kindEvents = 0;
  /** NaN until the first event: a double from the start, so V8 stores each stamp in place. */
  private lastAt = Number.NaN;

  event(sourceKind: string, at: number): void {
    this.events++;
    if (sourceKind !== this.kind) this.switchKind(sourceKind);
    this.kindEvents++;
    this.lastAt = at;
  }

  /** When the last knock event was seen (its own stamp, epoch ms). */
  get lastEventAt(): number | undefined {
    return Number.isNaN(this.lastAt) ? undefined : this.lastAt;
  }

  /** Events by source kind (nflog, kmsg, file), in the order the kinds were first seen. */
  get eventsBySource(): ReadonlyMap<string, number> {
    const counts = new Map(this.kinds);
    if (this.kind !== '') counts.set(this.kind, this.kindEvents);
    return counts;
  }

  reject(reason: RejectReason): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  snapshot(): Record<string, unknown> {
    return {
      events: this.events,
      overruns: this.overruns,
      evictions: this.evictions,
      commands: this.commands,
      sourceRestarts: this.sourceRestarts,
      rejects: Object.fromEntries(this.rejects),
    };
  }

  private switchKind(kind: string): void {
    if (this.kind !== '') this.kinds.set(this.kind, this.kindEvents);
    this.kind = kind;
    this.kindEvents = this.kinds.get(kind) ?? 0;
    // Holds the kind's place in the order; its count is read from kindEvents while it is current.
    this.kinds.set(kind, this.kindEvents);
  }
}
