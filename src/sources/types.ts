import type { KnockEvent } from '../core/types.js';
import type { NfknockError } from '../core/errors.js';
import type { RejectReason } from '../core/reject-reasons.js';

/**
 * Where a source delivers what it reads. A source never throws out of its read loop: every input
 * ends as exactly one call here, so the daemon can count what it dropped and why.
 */
export interface SourceSink {
  /**
   * The event is the sink's only until it returns: a source may refill the same object for its next
   * packet (NflogSource does, so that a flood allocates no event per packet). Keep fields, or a copy.
   */
  event(event: KnockEvent): void;
  /** Input that was read but is not a knock we accept (malformed, wrong prefix, forged...). */
  reject(reason: RejectReason, detail?: string): void;
  /** The kernel dropped messages before we read them (ENOBUFS on netlink, EPIPE on /dev/kmsg). */
  overrun(what: string, lost?: number): void;
  /** Trouble that does not stop the source (log file vanished, read error retried...). */
  trouble(error: NfknockError): void;
  /**
   * The source stopped for good (its socket died) and will deliver nothing more; the daemon reopens
   * it rather than run deaf. Sinks that do not implement it get `trouble` instead.
   */
  failed?(error: NfknockError): void;
}

export interface KnockSource {
  /** Opens the source; rejects with an NfknockError (e.g. NFK_PERMISSION naming CAP_NET_ADMIN). */
  start(): Promise<void>;
  /** Stops reading; resolves once no more sink calls will be made. */
  close(): Promise<void>;
}
