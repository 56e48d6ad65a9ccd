import type { KnockEvent } from '../../src/core/types.js';
import type { NfknockError } from '../../src/core/errors.js';
import type { SourceSink } from '../../src/sources/types.js';

/** A sink that records every call, for assertions. */
export class RecordingSink implements SourceSink {
  readonly events: KnockEvent[] = [];
  readonly rejects: { reason: string; detail?: string | undefined }[] = [];
  readonly overruns: { what: string; lost?: number | undefined }[] = [];
  readonly troubles: NfknockError[] = [];

  event(event: KnockEvent): void {
    this.events.push(event);
  }
  reject(reason: string, detail?: string): void {
    this.rejects.push({ reason, detail });
  }
  overrun(what: string, lost?: number): void {
    this.overruns.push({ what, lost });
  }
  trouble(error: NfknockError): void {
    this.troubles.push(error);
  }
}

/** Polls until `condition` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
