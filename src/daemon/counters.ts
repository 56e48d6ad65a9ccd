import type { RejectReason } from '../core/reject-reasons.js';

/** What the daemon read and dropped, for status output, metrics, benchmarks and the shutdown summary. */
export class Counters {
  events = 0;
  overruns = 0;
  evictions = 0;
  commands = 0;
  sourceRestarts = 0;
  /** When the last knock event was seen (its own stamp, epoch ms). */
  lastEventAt: number | undefined;
  /** By source kind (nflog, kmsg, file): a reload may switch the source. */
  readonly eventsBySource = new Map<string, number>();
  readonly rejects = new Map<RejectReason, number>();

  event(sourceKind: string, at: number): void {
    this.events++;
    this.eventsBySource.set(sourceKind, (this.eventsBySource.get(sourceKind) ?? 0) + 1);
    this.lastEventAt = at;
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
}
