/**
 * Edges for the user-facing log: knockd's LogFile and syslog.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import type { Writable, Readable } from 'node:stream';
import { NfknockError, ErrorCodes } from '../core/errors.js';
import { escapeControlCharacters, logFileLine, type UtcOffsetAt } from './knockd-format.js';
import type { Logger } from './logger.js';
import { LoggerStderrReport } from './logger-stderr.js';

/** The host's local time, as knockd's localtime(3) would use it (honours TZ). */
export const systemUtcOffset: UtcOffsetAt = (epochMs) => -new Date(epochMs).getTimezoneOffset();

export interface KnockLogOptions {
  logger: Logger;
  /** Mode of a newly created file; knockd leaves it to the umask, nfknock keeps the audit trail private. */
  mode?: number;
  offsetAt?: UtcOffsetAt;
}

/**
 * knockd's LogFile: append-only, one line per event, written synchronously so that lines keep their
 * order and none is held in a buffer when the daemon stops. Writes never throw: a log that cannot be
 * written must not stop doors from opening and closing, so failures become pino warnings.
 */
export class KnockLog {
  private fd: number | undefined;
  private filePath: string | undefined;
  private failing = false;
  private lostLines = 0;
  private readonly mode: number;
  private readonly offsetAt: UtcOffsetAt;

  constructor(private readonly options: KnockLogOptions) {
    this.mode = options.mode ?? 0o640;
    this.offsetAt = options.offsetAt ?? systemUtcOffset;
  }

  get path(): string | undefined {
    return this.filePath;
  }

  /** Opens (creating if needed) the file; without a path the log is off and writes are ignored. */
  async open(path?: string): Promise<void> {
    this.closeFd();
    this.filePath = path;
    if (path !== undefined) this.fd = openAppend(path, this.mode);
  }

  /** Writes one line (a newline is added when missing). */
  write(line: string): void {
    if (this.filePath === undefined) return;
    const text = line.endsWith('\n') ? line : `${line}\n`;
    try {
      if (this.fd === undefined || fstatSync(this.fd).nlink === 0) this.recreate();
      writeSync(this.fd as number, text);
      if (this.failing) {
        this.options.logger.warn({ path: this.filePath, lostLines: this.lostLines }, 'knock log writable again');
        this.failing = false;
        this.lostLines = 0;
      }
    } catch (error) {
      this.lostLines++;
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn({ path: this.filePath, err: error }, 'cannot write the knock log; lines are lost until it works again');
      }
    }
  }

  /** Formats a knockd-style message with its `[YYYY-MM-DD HH:MM]` stamp and writes it. */
  writeMessage(epochMs: number, message: string): void {
    if (this.filePath === undefined) return;
    this.write(logFileLine(epochMs, this.offsetAt, message));
  }

  /** For logrotate (SIGHUP): closes and opens the path again, creating the file if it was moved away. */
  async reopen(): Promise<void> {
    if (this.filePath === undefined) return;
    this.closeFd();
    this.fd = openAppend(this.filePath, this.mode);
    this.failing = false;
  }

  async close(): Promise<void> {
    this.closeFd();
    this.filePath = undefined;
  }

  private recreate(): void {
    const path = this.filePath as string;
    if (this.fd !== undefined) {
      this.options.logger.warn({ path }, 'knock log file was deleted; re-creating it');
    }
    this.closeFd();
    this.fd = openAppend(path, this.mode);
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing useful to do: the descriptor is gone either way.
    }
    this.fd = undefined;
  }
}

function openAppend(path: string, mode: number): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const permission = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
    throw new NfknockError(
      permission ? ErrorCodes.PERMISSION : ErrorCodes.CONFIG_INVALID,
      `cannot open the log file ${path} for appending (${code ?? String(error)})`,
      { cause: error, location: { text: path } },
    );
  }
}

export interface SyslogWriterOptions {
  logger: Logger;
  /** Syslog tag; knockd uses "knockd". */
  tag?: string;
  /** knockd: openlog(..., LOG_USER) and syslog(LOG_NOTICE, ...). */
  facility?: string;
  severity?: string;
  /** Unix socket of the syslog daemon; logger's default is /dev/log. */
  socket?: string;
  /**
   * Shown as tag[id]; defaults to the daemon's pid (logger's own pid would be meaningless). Part of the
   * tag, not logger's --id: that sends credentials with a pid not logger's own, which needs
   * CAP_SYS_ADMIN, so under the unit's bounding set every line failed with EPERM.
   */
  id?: number;
  /** Lines held while logger is (re)starting or its pipe is full; beyond this, lines are dropped and counted. */
  queueLimit?: number;
  loggerCommand?: string;
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export interface SyslogStats {
  written: number;
  dropped: number;
  restarts: number;
}

type LoggerChild = ChildProcessByStdio<Writable, null, Readable>;

/**
 * Sends lines to the local syslog daemon. Node has no unix datagram sockets, so one long-running
 * util-linux `logger` reads our lines on its stdin and does the socket work (it reconnects by itself
 * when rsyslogd restarts). If logger dies it is restarted with exponential backoff. The queue is bounded
 * in lines: under a flood, lines are dropped and counted (`syslog lines dropped`) rather than blocking
 * the daemon or growing without bound.
 */
export class SyslogWriter {
  private child: LoggerChild | undefined;
  private queue: string[] = [];
  private pipeFull = false;
  private closing = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private startedAt = 0;
  private stderrTail = '';
  private readonly stderrReport: LoggerStderrReport;
  private droppedSinceReport = 0;
  private readonly counters: SyslogStats = { written: 0, dropped: 0, restarts: 0 };
  private readonly queueLimit: number;

  constructor(private readonly options: SyslogWriterOptions) {
    this.queueLimit = options.queueLimit ?? 1000;
    this.delayMs = options.restartDelayMs ?? 200;
    this.stderrReport = new LoggerStderrReport(options.logger);
  }

  get stats(): SyslogStats {
    return { ...this.counters };
  }

  start(): void {
    this.closing = false;
    this.spawnLogger();
  }

  /** Queues one message; never blocks, never throws. */
  write(message: string): void {
    if (this.closing) return;
    const line = `${escapeControlCharacters(message)}\n`;
    if (this.child && !this.pipeFull && this.queue.length === 0) {
      this.send(line);
      return;
    }
    if (this.queue.length >= this.queueLimit) {
      this.counters.dropped++;
      if (this.droppedSinceReport++ === 0) {
        this.options.logger.warn({ queueLimit: this.queueLimit }, 'syslog lines dropped: syslog is not keeping up');
      }
      return;
    }
    this.queue.push(line);
  }

  /** Hands the queued lines to logger and waits for it to exit (at most `timeoutMs`). */
  async close(timeoutMs = 2000): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) {
      this.reportDropped();
      return;
    }
    for (const line of this.queue) child.stdin.write(line);
    this.counters.written += this.queue.length;
    this.queue = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        resolve();
      }, timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin.end();
    });
    this.reportDropped();
  }

  private args(): string[] {
    const o = this.options;
    const args = ['-t', `${o.tag ?? 'nfknockd'}[${o.id ?? process.pid}]`, '-p', `${o.facility ?? 'user'}.${o.severity ?? 'notice'}`];
    // Without this, logger silently discards lines when the socket is missing.
    args.push('--socket-errors=on');
    if (o.socket !== undefined) args.push('-u', o.socket);
    return args;
  }

  private spawnLogger(): void {
    let child: LoggerChild;
    try {
      // Own process group: a Ctrl-C or a signal to the daemon's group must not kill it before our last lines.
      child = spawn(this.options.loggerCommand ?? 'logger', this.args(), { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    } catch (error) {
      this.onExit(undefined, error);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    this.stderrTail = '';
    this.pipeFull = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-500);
      this.stderrReport.add(chunk);
    });
    child.stdin.on('error', () => {
      // EPIPE when logger dies; 'exit' handles the restart.
    });
    child.stdin.on('drain', () => {
      this.pipeFull = false;
      this.flushQueue();
    });
    child.once('error', (error) => this.onExit(child, error));
    child.once('exit', (code, signal) => this.onExit(child, undefined, code, signal));
    this.flushQueue();
  }

  private onExit(child: LoggerChild | undefined, error?: unknown, code?: number | null, signal?: NodeJS.Signals | null): void {
    if (child !== undefined && this.child !== child) return;
    this.child = undefined;
    if (this.closing) return;
    // A logger that ran for a while died of something transient: start again quickly.
    if (Date.now() - this.startedAt > 30_000) this.delayMs = this.options.restartDelayMs ?? 200;
    const missing = (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    this.options.logger.warn(
      {
        code,
        signal,
        err: error,
        stderr: this.stderrTail.trim() || undefined,
        retryInMs: this.delayMs,
        errorCode: missing ? ErrorCodes.MISSING_TOOL : undefined,
      },
      missing ? 'cannot run logger(1) for syslog; is util-linux installed?' : 'syslog writer (logger) stopped; restarting',
    );
    this.counters.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closing) this.spawnLogger();
    }, this.delayMs);
    this.restartTimer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxRestartDelayMs ?? 30_000);
  }

  private send(line: string): void {
    const child = this.child as LoggerChild;
    this.counters.written++;
    if (!child.stdin.write(line)) this.pipeFull = true;
  }

  private flushQueue(): void {
    while (this.child && !this.pipeFull && this.queue.length > 0) this.send(this.queue.shift() as string);
    if (this.queue.length === 0) this.reportDropped();
  }

  private reportDropped(): void {
    if (this.droppedSinceReport === 0) return;
    this.options.logger.warn({ dropped: this.droppedSinceReport, droppedTotal: this.counters.dropped }, 'syslog lines dropped');
    this.droppedSinceReport = 0;
  }
}
