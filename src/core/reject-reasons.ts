/**
 * Why an input was dropped: one vocabulary for every decoder, source, filter and counter, so a reason
 * counts the same whichever source read the knock. Short, stable words: they are counted, logged at
 * debug and named by tests.
 */

/** What the NFLOG decoder drops (src/decode/nflog.ts). */
export const nflogRejectReasons = [
  'truncated', // a length field points past the bytes we have
  'bad-attribute', // an attribute too short for its type, or an unterminated prefix
  'bad-message', // nfgenmsg version or family we do not speak
  'prefix-mismatch', // the prefix is not exactly the configured one (another rule's traffic)
  'bad-timestamp',
  'no-payload', // the group copies metadata only
  'not-ip',
  'bad-ip-header',
  'fragment', // a non-first fragment carries no ports
  'not-tcp-udp',
  'bad-tcp-header',
  'nlmsg-error', // the kernel reported an error in the stream
  'unknown-message',
] as const;
export type NflogRejectReason = (typeof nflogRejectReasons)[number];

/** What the LOG line decoder drops (src/decode/log-line.ts); `<kind>:<FIELD>` names the field. */
export type LogLineRejectReason =
  | 'empty-prefix'
  | 'too-long'
  | 'prefix-mismatch'
  | 'bad-character'
  | 'truncated'
  | 'fragment'
  | 'malformed-options'
  | 'malformed-field'
  | 'nested-packet'
  | 'icmp'
  | 'unsupported-protocol'
  | 'tcp-flags-on-udp'
  | 'family-mismatch'
  | `missing-field:${string}`
  | `duplicate-field:${string}`
  | `bad-port:${string}`
  | `bad-address:${string}`
  | `incomplete:${string}`;

/** /dev/kmsg records (src/decode/kmsg.ts). */
export type KmsgRejectReason = 'kmsg-bad-header' | 'kmsg-truncated' | 'kmsg-bad-dictionary';

/** Syslog lines (src/decode/syslog.ts); `not-kernel` also for kmsg records of another facility. */
export type SyslogRejectReason = 'syslog-bad-timestamp' | 'syslog-no-tag' | 'not-kernel';

/** Lines a followed file loses or refuses (src/sources/file-follow.ts, kernel-log-file.ts). */
export type FileRejectReason = 'line-too-long' | 'partial-line-lost-to-truncation' | 'partial-line-lost-to-rotation' | 'replayed' | 'stale';

/** Knocks the daemon's filters refuse (src/sources/filtering-sink.ts). */
export type FilterRejectReason = 'wrong-interface' | 'ipv6-disabled';

/** A knock whose decision threw (a bug): it costs that packet only (src/daemon/daemon.ts). */
export type DecisionRejectReason = 'internal-error';

export type RejectReason = NflogRejectReason | LogLineRejectReason | KmsgRejectReason | SyslogRejectReason | FileRejectReason | FilterRejectReason | DecisionRejectReason;
