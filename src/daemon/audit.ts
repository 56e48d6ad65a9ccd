import type { Logger } from 'pino';
import type { Protocol } from '../core/types.js';
import * as line from '../logging/knockd-format.js';
import { LineLimiter } from '../logging/line-limiter.js';
import type { AuditRecord } from '../metrics/snapshot.js';

/** Somewhere a knockd-format message goes: the LogFile, the local syslog. */
export interface AuditSink {
  write(epochMs: number, message: string): void;
}

/**
 * The audit trail: every door event as a knockd-format message (LogFile, syslog) and as a structured
 * pino record. Stage, broken and timeout lines go through a limiter so that a spoofed flood cannot
 * turn the log into the bottleneck; OPEN SESAME and command lines never do.
 */
export class Audit {
  private readonly limiter = new LineLimiter({ linesPerWindow: 200, windowMs: 10_000 });

  constructor(
    private readonly logger: Logger,
    private readonly sinks: AuditSink[],
    private readonly echoKnockdLines: boolean,
    /** Sees every structured record (the metrics count from it), also those the limiter holds back. */
    private readonly observe: (at: number, record: AuditRecord) => void = () => undefined,
  ) {}

  /** `chatter` lines (stages, broken sequences) reach pino at info only with -v/-D. */
  private emit(at: number, message: string, fields: AuditRecord, level: 'chatter' | 'info' | 'warn' | 'error' = 'info', observed = false): void {
    if (!observed) this.observe(at, fields);
    for (const sink of this.sinks) sink.write(at, message);
    if (level !== 'chatter') this.logger[level](fields, message);
    else if (this.echoKnockdLines) this.logger.info(fields, message);
    else this.logger.debug(fields, message);
  }

  /**
   * Whether a limited line may be written now (after the summary of lines held back, if any). Callers
   * build their line only once admitted: under a flood most are not, and this runs per packet, so the
   * refusal path allocates nothing here.
   */
  private admitted(category: string, at: number): boolean {
    const admission = this.limiter.admit(category, at);
    if (!admission.admit) return false;
    if (admission.summary) {
      const { suppressed, spanMs } = admission.summary;
      this.emit(at, line.suppressedLinesMessage(suppressed, category, spanMs), { event: 'suppressed', category, suppressed }, 'warn');
    }
    return true;
  }

  started(at: number, listeningOn: string): void {
    this.emit(at, line.startupMessage(listeningOn), { event: 'start' });
  }

  stopping(at: number): void {
    this.emit(at, line.shutdownMessage(), { event: 'stop' });
  }

  reloaded(at: number, configPath: string): void {
    this.emit(at, line.reloadMessage(configPath), { event: 'reload' });
  }

  reloadRefused(at: number, configPath: string, problem: string): void {
    this.emit(at, `reload refused, still running the previous configuration: ${problem}`, { event: 'reload-refused', config: configPath }, 'error');
  }

  /** The limited lines (stage, broken, timeout) return whether they were written. */
  stage(at: number, source: string, door: string, stage: number): boolean {
    if (!this.admitted('stage', at)) return false;
    this.emit(at, line.stageMessage(source, door, stage), { event: 'stage', source, door, stage }, 'chatter');
    return true;
  }

  broken(at: number, source: string, door: string, stage: number, got: { port: number; protocol: Protocol }): boolean {
    if (!this.admitted('broken', at)) return false;
    // Only the two fields: callers pass the matcher's whole action, whose `door` is the Door object.
    const { port, protocol } = got;
    this.emit(at, line.sequenceBrokenMessage(source, door, stage, got), { event: 'broken', source, door, stage, port, protocol }, 'chatter');
    return true;
  }

  timedOut(at: number, source: string, door: string, stage: number): boolean {
    if (!this.admitted('timeout', at)) return false;
    this.emit(at, line.sequenceTimeoutMessage(source, door, stage), { event: 'sequence-timeout', source, door, stage }, 'chatter');
    return true;
  }

  /** `knocks`: a one-time line's sequence, which its burnt line in the file no longer shows whole. */
  open(at: number, source: string, door: string, sequence: string, knocks?: string): void {
    this.emit(at, line.openSesameMessage(source, door), knocks === undefined ? { event: 'open', source, door, sequence } : { event: 'open', source, door, sequence, knocks });
  }

  extended(at: number, source: string, door: string, closesAt: number): void {
    this.emit(at, `${source}: ${door}: knocked again while open, closes at ${new Date(closesAt).toISOString()}`, {
      event: 'extend',
      source,
      door,
      closesAt
    });
  }

  replay(at: number, source: string, door: string, sequence: string): void {
    // Limited: one sniffed sequence replayed from spoofed sources must not fill the disk. Counted
    // either way: the metrics must show the flood the log holds back.
    const fields = { event: 'replay', source, door, sequence };
    this.observe(at, fields);
    if (this.admitted('replay', at)) this.emit(at, `${source}: ${door}: sequence ${sequence} already used, replay refused`, fields, 'warn', true);
  }

  running(at: number, source: string, door: string, command: string, kind: 'start' | 'stop'): void {
    this.emit(at, line.runningCommandMessage(door, command), { event: 'command', kind, source, door, command });
  }

  commandTimeout(at: number, source: string, door: string): void {
    this.emit(at, line.commandTimeoutMessage(source, door), { event: 'cmd-timeout', source, door });
  }

  commandResult(
    at: number,
    source: string,
    door: string,
    result: { exitCode: number | null; signal: string | null; timedOut: boolean; stderr: string },
    limitMs: number,
    kind?: 'start' | 'stop',
  ): void {
    const fields = { event: 'command-result', kind, source, door, exitCode: result.exitCode, signal: result.signal, stderr: result.stderr || undefined };
    if (result.timedOut) this.emit(at, line.commandOvertimeMessage(source, door, limitMs), fields, 'error');
    else if (result.signal) this.emit(at, line.commandKilledMessage(source, door, result.signal), fields, 'error');
    else if (result.exitCode !== 0) {
      this.emit(at, line.commandFailedMessage(door, result.exitCode ?? -1), fields, 'error');
    } else this.emit(at, line.commandExitStatusMessage(source, door, 0), fields, 'chatter');
  }

  refused(at: number, source: string, door: string, reason: string): void {
    this.emit(at, line.commandRefusedMessage(source, door, reason), { event: 'refused', source, door, reason }, 'error');
  }

  closing(at: number, source: string, door: string): void {
    this.emit(at, line.closingDoorMessage(source, door), { event: 'close', source, door });
  }

  oneTimeExhausted(at: number, door: string): void {
    this.emit(at, line.noMoreOneTimeSequencesMessage(door), { event: 'one-time-exhausted', door }, 'warn');
  }
}
