import type { Config, Options } from '../core/types.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';
export { integerFlag } from '../core/whole-number.js';
import { checkAbsolutePath, checkFirewall, checkInterface, checkLogPrefix, checkMaxAttempts, checkNflogGroup, checkSource, checkSyslogFacility, checkSyslogTag, type Checked } from '../config/option-values.js';
import { withFirewall } from '../firewall/open-ports.js';

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
  closeRecorded?: boolean;
  commandTimeout?: string;
  syslogSocket?: string;
  allowNetnsLog?: boolean;
  acceptSharedKernelLog?: boolean;
  metricsFile?: string;
  statsFile?: string;
  syslogTag?: string;
  syslogFacility?: string;
  firewall?: string;
}

/**
 * Flags win over the config's `[options]`, like knockd's -i over Interface. Each is checked by the
 * very function that checks the key it overrides (src/config/option-values.ts). Pure.
 */
export function mergeFlags(config: Config, flags: DaemonFlags): Config {
  const options: Options = { ...config.options };
  const take = <T>(flag: string, text: string | undefined, check: (text: string) => Checked<T>, set: (value: T) => void) => {
    if (text === undefined) return;
    const checked = check(text);
    if (!checked.ok) throw new NfknockError(ErrorCodes.USAGE, `${flag}: ${checked.message}`, { location: { text } });
    set(checked.value);
  };
  const path = (name: string) => (text: string) => checkAbsolutePath(name, text);
  take('--interface', flags.interface, checkInterface, (value) => (options.interface = value));
  take('--logfile', flags.logfile, path('LogFile'), (value) => (options.logFile = value));
  take('--pidfile', flags.pidfile, path('PidFile'), (value) => (options.pidFile = value));
  take('--source', flags.source, checkSource, (value) => (options.source = value));
  take('--nflog-group', flags.nflogGroup, checkNflogGroup, (value) => (options.nflogGroup = value));
  take('--prefix', flags.prefix, checkLogPrefix, (value) => (options.logPrefix = value));
  take('--state-dir', flags.stateDir, path('StateDir'), (value) => (options.stateDir = value));
  take('--kernel-log', flags.kernelLog, path('KernelLog'), (value) => (options.kernelLog = value));
  take('--max-attempts', flags.maxAttempts, checkMaxAttempts, (value) => (options.maxAttempts = value));
  take('--metrics-file', flags.metricsFile, path('MetricsFile'), (value) => (options.metricsFile = value));
  take('--stats-file', flags.statsFile, path('StatsFile'), (value) => (options.statsFile = value));
  take('--syslog-tag', flags.syslogTag, checkSyslogTag, (value) => (options.syslogTag = value));
  take('--syslog-facility', flags.syslogFacility, checkSyslogFacility, (value) => (options.syslogFacility = value));
  // Open = doors are bound to the backend here, as parse.ts binds them to [options] Firewall.
  take('--firewall', flags.firewall, checkFirewall, (value) => (options.firewall = value));
  if (options.source === 'file' && options.kernelLog === undefined) {
    throw new NfknockError(ErrorCodes.USAGE, '--source file needs --kernel-log PATH (or KernelLog in [options])');
  }
  return { ...config, options, doors: withFirewall(config.doors, options.firewall, options.nftTable) };
}
