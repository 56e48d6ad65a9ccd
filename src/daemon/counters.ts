import type { RejectReason } from '../core/reject-reasons.js';

/** What the daemon read and dropped, for status output, benchmarks and the shutdown summary. */
export class Counters {
  events = 0;
  overruns = 0;
  evictions = 0;
  commands = 0;
  sourceRestarts = 0;
  readonly rejects = new Map<RejectReason, number>();

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
