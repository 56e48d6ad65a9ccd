import type { Family, KnockStep, Protocol } from '../core/types.js';
import { NfknockError } from '../core/errors.js';

export interface FloodGuard {
  /** Knock packets per second each source (IPv4 address, IPv6 /64) may have logged... */
  perSourcePerSecond: number;
  /** ...after a burst of this many. */
  burst: number;
}

/** A port the complete firewall opens to everybody (a web server's 443), not behind a door. */
export interface ServicePort {
  protocol: Protocol;
  port: number;
}

export interface RulesOptions {
  /** NFLOG (netlink, the daemon's default source) or LOG (the kernel log: kmsg or rsyslog file sources). */
  target: 'nflog' | 'log';
  /** NFLOG group, 0-65535; ignored for LOG. */
  group: number;
  /** The daemon's log prefix (`portknock`); LOG rules add the separating space themselves. */
  prefix: string;
  /** iptables-restore (4) or ip6tables-restore (6) text; the nft ruleset is `inet` and covers both. */
  family: Family;
  /** A whole default-deny filter table instead of a fragment for a running firewall. */
  complete: boolean;
  format: 'iptables' | 'nft' | 'ipset';
  /** iptables output: accept the knockers in nfknock's ipsets (Firewall = ipset, issue 13). */
  openSets?: boolean | undefined;
  floodGuard?: FloodGuard | undefined;
  /** Ports of every unused one-time sequence, by door name, read from the doors' one-time files. */
  oneTimeSteps?: ReadonlyMap<string, readonly KnockStep[]> | undefined;
  /** Only with `complete`: ports open to everybody. */
  servicePorts?: readonly ServicePort[] | undefined;
  /**
   * Where knocks are marked: `input` (default, knocks to this host); `forward`, knocks routed through
   * this gateway; `prerouting`, before a DNAT rewrites the destination. The last two mark each door's
   * ports only for its Target (`-d` / `daddr`), so one gateway runs doors for several internal hosts.
   */
  hook?: KnockHook | undefined;
}

export type KnockHook = 'input' | 'forward' | 'prerouting';
export const KNOCK_HOOKS: readonly KnockHook[] = ['input', 'forward', 'prerouting'];

/** Kernel limits: xt_LOG keeps 29 characters of prefix, NFLOG 63 (both NUL-terminated 30/64-byte fields). */
export const LOG_PREFIX_MAX = 29;
export const NFLOG_PREFIX_MAX = 63;

/** The prefix as the kernel rule carries it: LOG output runs straight into "IN=", so it gets a space. */
export function rulePrefix(options: Pick<RulesOptions, 'target' | 'prefix'>): string {
  return options.target === 'log' ? `${options.prefix} ` : options.prefix;
}

export function validateRulesOptions(options: RulesOptions): void {
  if (options.target !== 'nflog' && options.target !== 'log') usage(`unknown log target ${JSON.stringify(options.target)}: use nflog or log`);
  if (!['iptables', 'nft', 'ipset'].includes(options.format)) usage(`unknown rules format ${JSON.stringify(options.format)}: use iptables, nft or ipset`);
  if (options.family !== 4 && options.family !== 6) usage(`unknown address family ${JSON.stringify(options.family)}: use 4 or 6`);
  validatePrefix(options);
  if (options.target === 'nflog' && !(Number.isInteger(options.group) && options.group >= 0 && options.group <= 65535)) {
    usage(`NFLOG group ${options.group} is outside 0-65535`);
  }
  if (options.floodGuard) {
    const { perSourcePerSecond, burst } = options.floodGuard;
    if (!(Number.isInteger(perSourcePerSecond) && perSourcePerSecond >= 1 && perSourcePerSecond <= 10000)) {
      usage(`flood guard rate ${perSourcePerSecond}/s must be a whole number from 1 to 10000`);
    }
    if (!(Number.isInteger(burst) && burst >= 1 && burst <= 10000)) usage(`flood guard burst ${burst} must be a whole number from 1 to 10000`);
  }
  const hook = options.hook ?? 'input';
  if (!KNOCK_HOOKS.includes(hook)) usage(`unknown hook ${JSON.stringify(hook)}: use ${KNOCK_HOOKS.join(', ')}`);
  if (options.complete && (hook === 'prerouting' || (hook === 'forward' && options.format === 'nft'))) {
    usage(`--complete with --hook ${hook}${hook === 'forward' ? ' --format nft' : ''} is not offered: load the marks as a fragment beside your own gateway ruleset`);
  }
  for (const service of options.servicePorts ?? []) {
    if (!options.complete) usage('service ports only make sense with a complete firewall (--complete)');
    if (service.protocol !== 'tcp' && service.protocol !== 'udp') usage(`service port protocol ${JSON.stringify(service.protocol)} is not tcp or udp`);
    if (!(Number.isInteger(service.port) && service.port >= 1 && service.port <= 65535)) usage(`service port ${service.port} is outside 1-65535`);
  }
}

function validatePrefix(options: RulesOptions): void {
  const { prefix } = options;
  if (prefix.length === 0) usage('the log prefix is empty: the daemon could not tell knock packets from other log lines');
  // Printable ASCII without blanks or quotes: the prefix is quoted in iptables-restore and nft files,
  // and the kernel-log decoder finds it as one word.
  const bad = [...prefix].find((char) => char < '!' || char > '~' || char === '"' || char === "'" || char === '\\');
  if (bad !== undefined) {
    usage(`the log prefix ${JSON.stringify(prefix)} contains ${JSON.stringify(bad)}: use printable characters without blanks, quotes or backslashes`);
  }
  const kernelPrefix = rulePrefix(options);
  const max = options.target === 'log' ? LOG_PREFIX_MAX : NFLOG_PREFIX_MAX;
  if (kernelPrefix.length > max) {
    const what = options.target === 'log' ? `LOG keeps ${max} characters, including the space nfknock appends` : `NFLOG keeps ${max} characters`;
    usage(`the log prefix ${JSON.stringify(prefix)} is too long: ${what}`);
  }
}

function usage(message: string): never {
  throw new NfknockError('NFK_USAGE', message);
}
