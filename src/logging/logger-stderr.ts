/**
 * What logger(1) says on stderr while it keeps running. With `--socket-errors=on` it prints one line
 * per message it could not send (EPERM under a sandbox that drops the credentials it asks for, a
 * missing socket) and goes on reading: waiting for it to exit before reading its stderr would hide a
 * syslog that receives nothing. The first complaint is reported at once, later ones at most once a
 * minute with a count, so a dead syslog cannot flood the journal either.
 */
import type { Logger } from './logger.js';

const REPORT_INTERVAL_MS = 60_000;

export class LoggerStderrReport {
  private lastReportAt = -Infinity;
  private unreported = 0;
  private partial = '';

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds a chunk of logger's stderr; reports complete lines. */
  add(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = (lines.pop() ?? '').slice(-500);
    for (const line of lines) if (line.trim() !== '') this.line(line.trim());
  }

  private line(text: string): void {
    this.unreported++;
    const at = this.now();
    if (at - this.lastReportAt < REPORT_INTERVAL_MS) return;
    this.logger.error({ stderr: text.slice(0, 500), complaints: this.unreported }, 'syslog writer (logger) cannot deliver lines: they do not reach syslog');
    this.lastReportAt = at;
    this.unreported = 0;
  }
}
