/**
 * Edge for the user-facing log's syslog copy: lines handed to util-linux `logger`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Writable, Readable } from 'node:stream';
import { ErrorCodes } from '../core/errors.js';
import { escapeControlCharacters } from './knockd-format.js';
import { LoggerStderrReport } from './logger-stderr.js';
import type { Logger } from './logger.js';

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
