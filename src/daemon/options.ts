import type { Config, Options, SourceKind } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { FIREWALL_KINDS, parseFirewallKind, withFirewall } from '../firewall/open-ports.js';

/** nfknockd's flags as commander hands them over; every one is optional and wins over `[options]`. */
export interface DaemonFlags {
  config: string;
  interface?: string;
  verbose?: boolean;
  debug?: boolean;
  logfile?: string;
  pidfile?: string;
  onlyIpV4?: boolean;
  daemon?: boolean;
  source?: string;
  nflogGroup?: string;
  prefix?: string;
  stateDir?: string;
  kernelLog?: string;
  maxAttempts?: string;
  closeOnExit?: boolean;
  commandTimeout?: string;
  syslogSocket?: string;
  allowNetnsLog?: boolean;
  firewall?: string;
}

const SOURCES: readonly SourceKind[] = ['nflog', 'kmsg', 'file'];

/** Flags win over the config's `[options]`, like knockd's -i over Interface. Pure. */
export function mergeFlags(config: Config, flags: DaemonFlags): Config {
  const options: Options = { ...config.options };
  if (flags.interface !== undefined) options.interface = nonEmpty(flags.interface, '--interface');
  if (flags.logfile !== undefined) options.logFile = nonEmpty(flags.logfile, '--logfile');
  if (flags.pidfile !== undefined) options.pidFile = nonEmpty(flags.pidfile, '--pidfile');
  if (flags.source !== undefined) {
    if (!SOURCES.includes(flags.source as SourceKind)) {
      throw new NfknockError(ErrorCodes.USAGE, `--source must be one of ${SOURCES.join(', ')}`, { location: { text: flags.source } });
    }
    options.source = flags.source as SourceKind;
  }
  if (flags.nflogGroup !== undefined) options.nflogGroup = integerFlag(flags.nflogGroup, '--nflog-group', 0, 65535);
  if (flags.prefix !== undefined) options.logPrefix = nonEmpty(flags.prefix, '--prefix');
  if (flags.stateDir !== undefined) options.stateDir = nonEmpty(flags.stateDir, '--state-dir');
  if (flags.kernelLog !== undefined) options.kernelLog = nonEmpty(flags.kernelLog, '--kernel-log');
  if (flags.maxAttempts !== undefined) options.maxAttempts = integerFlag(flags.maxAttempts, '--max-attempts', 1, 10_000_000);
  if (flags.firewall !== undefined) {
    const kind = parseFirewallKind(flags.firewall);
    if (kind === undefined) throw new NfknockError(ErrorCodes.USAGE, `--firewall must be one of ${FIREWALL_KINDS.join(', ')}`, { location: { text: flags.firewall } });
    options.firewall = kind;
  }
  if (options.source === 'file' && options.kernelLog === undefined) {
    throw new NfknockError(ErrorCodes.USAGE, '--source file needs --kernel-log PATH (or KernelLog in [options])');
  }
  return { ...config, options, doors: withFirewall(config.doors, options.firewall, options.nftTable) };
}

export function integerFlag(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new NfknockError(ErrorCodes.USAGE, `${flag} takes a whole number from ${min} to ${max}`, { location: { text } });
  }
  return Number(text);
}

function nonEmpty(text: string, flag: string): string {
  if (text.trim() === '') throw new NfknockError(ErrorCodes.USAGE, `${flag} needs a value`);
  return text;
}
