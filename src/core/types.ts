import type { RejectReason } from './reject-reasons.js';
/**
 * The few types every layer shares. Times are Unix epoch milliseconds everywhere: NFLOG and syslog
 * stamp wall-clock time, pending closes must survive a reboot, and time-based sequences are derived
 * from wall-clock steps. Sources convert other clocks (kmsg's monotonic microseconds) at the edge.
 */
export type Protocol = 'tcp' | 'udp';
export type Family = 4 | 6;

/** TCP header flag bits, as on the wire (byte 13 of the TCP header). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
} as const;
export type TcpFlagName = 'fin' | 'syn' | 'rst' | 'psh' | 'ack' | 'urg';
export const tcpFlagBits: Record<TcpFlagName, number> = {
  fin: TcpFlag.FIN,
  syn: TcpFlag.SYN,
  rst: TcpFlag.RST,
  psh: TcpFlag.PSH,
  ack: TcpFlag.ACK,
  urg: TcpFlag.URG,
};

export interface KnockEvent {
  /** Canonical address literal of the knocker (IPv6 compressed, lower case; IPv4 dotted quad). */
  source: string;
  family: Family;
  destination: string;
  protocol: Protocol;
  port: number;
  /** TCP flag bits; 0 for UDP. */
  tcpFlags: number;
  inInterface?: string;
  /** When the kernel saw the packet, epoch ms. */
  at: number;
}

export interface KnockStep {
  port: number;
  protocol: Protocol;
}

export interface TcpFlagRule {
  /** Bits that must be set. */
  required: number;
  /** Bits that must be clear (`!ack`). */
  forbidden: number;
}

/** A door whose sequence rotates with time (issue 7); derivation lives in src/timeseq/. */
export interface TimeSequenceSpec {
  /** Decoded secret; undefined until the config loader has read `secretFile`. */
  secret?: Uint8Array;
  /** Set when the config said `Sequence_Secret = @/path`; never log the secret itself. */
  secretFile?: string;
  length: number;
  portMin: number;
  portMax: number;
  periodSeconds: number;
  protocols: 'tcp' | 'udp' | 'mixed';
}

export interface Door {
  name: string;
  /** Fixed sequence; empty when the door uses one-time or time-based sequences. */
  steps: KnockStep[];
  seqTimeoutMs: number;
  tcpFlags: TcpFlagRule;
  target?: string;
  startCommand?: string;
  startCommand6?: string;
  stopCommand?: string;
  stopCommand6?: string;
  /** Delay before the stop command; knockd's default is 10 s. */
  cmdTimeoutMs: number;
  oneTimeFile?: string;
  timeSequence?: TimeSequenceSpec;
  /** `Open =`: nfknockd adds the knocker to its kernel sets with a timeout of cmd_timeout (src/firewall/). */
  open?: DoorOpening;
  /** Line of the `[name]` header, and of each key as written, for messages. */
  line: number;
  keyLines: Record<string, number>;
  /** The drop-in file (`Include`) the door was written in; undefined: the main config file. */
  file?: string;
}

export type SourceKind = 'nflog' | 'kmsg' | 'file';

export interface Options {
  useSyslog: boolean;
  logFile?: string;
  pidFile?: string;
  interface?: string;
  source: SourceKind;
  nflogGroup: number;
  logPrefix: string;
  stateDir: string;
  kernelLog?: string;
  /** Cap on knock attempts in progress (bounded memory under spoofed floods). */
  maxAttempts: number;
  /** Prometheus text file for node_exporter's textfile collector; none by default. */
  metricsFile?: string;
  /** The same figures as JSON, for `nfknock status --stats`. */
  statsFile: string;
  syslogTag: string;
  /** One of logger(1)'s facility names (config/option-values.ts checks it). */
  syslogFacility: string;
  /** The kernel sets `Open =` doors use: nft (`inet nfknock` open4/open6) or ipset (nfknock-open4/6). */
  firewall: FirewallKind;
  /** The `inet` table whose open4/open6 sets nft Open = doors fill: nfknock's own, or the host's. */
  nftTable: string;
}

export type FirewallKind = 'nft' | 'ipset';

/** One `port[:proto]` or `from-to[:proto]` of an `Open =` line; `from === to` for a single port. */
export interface OpenPort {
  protocol: Protocol;
  from: number;
  to: number;
}

/** What an `Open =` door opens, and with which backend: on a Door and in a persisted pending close. */
export interface DoorOpening {
  firewall: FirewallKind;
  ports: OpenPort[];
  /** nft only: the `inet` table holding open4/open6 when it is not nfknock's own (NftTable). */
  table?: string;
}

/** An `Include = /dir/*.conf` line of [options]: drop-in files holding more doors. */
export interface IncludeDirective {
  /** Absolute; wildcards (`*`, `?`, `[...]`) only in the last path component. */
  pattern: string;
  line: number;
}

export interface Config {
  file: string;
  options: Options;
  doors: Door[];
  /** Only in the main config's parse; the loader reads the files and merges their doors in. */
  includes?: IncludeDirective[];
}

export const defaultOptions: Options = {
  useSyslog: false,
  source: 'nflog',
  nflogGroup: 5,
  logPrefix: 'portknock',
  stateDir: '/var/lib/nfknock',
  maxAttempts: 65536,
  statsFile: '/run/nfknock/stats.json',
  syslogTag: 'nfknockd',
  // knockd's openlog(..., LOG_USER).
  syslogFacility: 'user',
  firewall: 'nft',
  nftTable: 'nfknock',
};

/** Result of a pure decoder: an event, or the reason the input was dropped (counted, logged at debug). */
export type Decoded<T = KnockEvent, R extends string = RejectReason> = { ok: true; value: T } | { ok: false; reason: R };

/** Wall-clock time, injected so that pure modules and tests never read the real clock. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}
