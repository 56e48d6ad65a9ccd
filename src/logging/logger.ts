/**
 * The daemon's own diagnostic log (pino, JSON lines on stdout by default, which journald captures).
 * This is separate from the knockd-format LogFile: that one is the user-facing audit trail.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  /** Defaults to a synchronous stdout stream, so nothing is lost when the daemon exits on a fatal error. */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 1, sync: true });
  return pino(
    {
      name: options.name ?? 'nfknockd',
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

export interface VerbosityFlags {
  /** -v: also echo the knockd-style lines (Stage, OPEN SESAME, running command) at info. */
  verbose?: boolean;
  /** -D: debug output (every rejected packet with its reason). */
  debug?: boolean;
}

export interface Verbosity {
  level: LogLevel;
  echoKnockdLines: boolean;
}

/**
 * knockd's -v and -D mapped onto pino: info by default, debug with -D. -D also turns on the -v echo
 * (knockd keeps them apart), because debug reasons without the stage lines around them are hard to follow.
 */
export function verbosityFromFlags(flags: VerbosityFlags): Verbosity {
  const debug = flags.debug === true;
  return { level: debug ? 'debug' : 'info', echoKnockdLines: debug || flags.verbose === true };
}
