import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../core/types.js';
import { parseKnockLine } from '../decode/log-line.js';
import { parseSyslogLine, SyslogReplayGuard } from '../decode/syslog.js';
import { FileFollower, type FileFollowerOptions } from './file-follow.js';
import type { KnockSource, SourceSink } from './types.js';

export interface KernelLogFileSourceOptions {
  path: string;
  prefix: string;
  sink: SourceSink;
  clock: Clock;
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  pollMs?: number;
  /** How to open the file (the daemon passes its trusted opener, src/sources/kernel-log-guard.ts). */
  openFile?(path: string): Promise<FileHandle | undefined>;
}

/**
 * Knocks from a file written by rsyslog (rules/rsyslog-nfknock.conf). The event time is the syslog
 * stamp when it has sub-second digits (RFC 3339 high precision: rsyslog stamped it when imklog
 * read it, milliseconds after the packet); a traditional stamp has whole seconds only, which would
 * make a 3-knock sequence look simultaneous or out of order, so those lines get the time we read
 * them instead.
 *
 * Replays: lines rsyslog writes again when imkmsg restarts are rejected as `replayed` (see
 * SyslogReplayGuard), starting from the file's last line at start.
 */
export class KernelLogFileSource implements KnockSource {
  private readonly options: KernelLogFileSourceOptions;
  private readonly follower: FileFollower;
  private readonly replays = new SyslogReplayGuard();

  constructor(options: KernelLogFileSourceOptions) {
    this.options = options;
    const { sink } = options;
    const followerOptions: FileFollowerOptions = {
      path: options.path,
      onLine: (line) => this.handleLine(line),
      onDiscard: (reason) => sink.reject(reason),
      onTrouble: (error) => sink.trouble(error),
      onExistingTail: (line) => this.notePreciseStamp(line),
    };
    if (options.openFile) followerOptions.openFile = options.openFile;
    if (options.pollMs !== undefined) followerOptions.pollMs = options.pollMs;
    this.follower = new FileFollower(followerOptions);
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  close(): Promise<void> {
    return this.follower.close();
  }

  private notePreciseStamp(line: string): void {
    const now = this.options.clock.now();
    const syslog = parseSyslogLine(line, now, -new Date(now).getTimezoneOffset());
    if (syslog.ok) this.replays.isReplay(syslog.value);
  }

  private handleLine(line: string): void {
    const { sink, clock, prefix } = this.options;
    try {
      const now = clock.now();
      const syslog = parseSyslogLine(line, now, -new Date(now).getTimezoneOffset());
      if (!syslog.ok) return sink.reject(syslog.reason, line.slice(0, 200));
      if (this.replays.isReplay(syslog.value)) return sink.reject('replayed', line.slice(0, 200));
      // A kernel line reaches the file within milliseconds; an old one is a replay (an rsyslog restart
      // into a file with no reference stamp yet, a restored file), never a knock to act on now.
      if (now - syslog.value.timestamp > MAX_LINE_AGE_MS) return sink.reject('stale', line.slice(0, 200));
      const decoded = parseKnockLine(syslog.value.message, prefix, syslog.value.precise ? syslog.value.timestamp : now);
      if (!decoded.ok) return sink.reject(decoded.reason, line.slice(0, 200));
      sink.event(decoded.value);
    } catch (error) {
      // A sink that throws must not stop the follower.
      this.options.log?.warn({ err: error }, 'file source: handling a line failed');
    }
  }
}

const MAX_LINE_AGE_MS = 60_000;
