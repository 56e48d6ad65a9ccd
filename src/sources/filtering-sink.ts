import type { KnockEvent } from '../core/types.js';
import type { FilterRejectReason } from '../core/reject-reasons.js';
import type { SourceSink } from './types.js';

/** What the daemon accepts of any source: `Interface` (or -i) and -4 (--only-ip-v4). */
export interface KnockFilter {
  interface?: string;
  onlyIpV4?: boolean;
}

/**
 * Why `event` must not reach the matcher, or undefined. The one place these filters live: every source
 * goes through filteringSink, and `nfknock simulate` asks the same question.
 */
export function filterRejection(event: KnockEvent, filter: KnockFilter): FilterRejectReason | undefined {
  if (filter.interface !== undefined && event.inInterface !== filter.interface) return 'wrong-interface';
  if (filter.onlyIpV4 === true && event.family === 6) return 'ipv6-disabled';
  return undefined;
}

/** `sink`, with the knocks `filter` refuses turned into rejects. */
export function filteringSink(sink: SourceSink, filter: KnockFilter): SourceSink {
  if (filter.interface === undefined && filter.onlyIpV4 !== true) return sink;
  return {
    ...sink,
    event: (event) => {
      const refused = filterRejection(event, filter);
      if (refused === undefined) sink.event(event);
      else sink.reject(refused, `${event.source} on ${event.inInterface ?? 'an unknown interface'}`);
    },
  };
}
