/**
 * knockd's LogFile line format, so that scripts and habits built on /var/log/knockd.log keep working.
 *
 * Verified against Debian's knockd 0.8 (captured lines are embedded in test/logging-knockd-format.test.ts):
 * `logprint()` writes `[%04d-%02d-%02d %02d:%02d] <message>\n` in local time, and sends the bare message
 * to syslog (ident "knockd", LOG_USER, LOG_NOTICE). Some of knockd's format strings end in "\n", so its
 * file gets an empty line after `running command`, `sequence timeout` and `re-reading config file`;
 * nfknock does not copy that accident: one event, one line.
 *
 * Messages are built without the timestamp, because syslog adds its own.
 */
import type { Protocol } from '../core/types.js';

/** Minutes east of UTC in force at an instant (local time has DST, so it depends on the instant). */
export type UtcOffsetAt = (epochMs: number) => number;

export function fixedUtcOffset(minutesEast: number): UtcOffsetAt {
  return () => minutesEast;
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** `2026-11-22 10:35`, knockd's minute-resolution local time. */
export function formatLogTimestamp(epochMs: number, offsetAt: UtcOffsetAt): string {
  const shifted = new Date(epochMs + offsetAt(epochMs) * 60_000);
  return (
    `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1, 2)}-${pad(shifted.getUTCDate(), 2)} ` +
    `${pad(shifted.getUTCHours(), 2)}:${pad(shifted.getUTCMinutes(), 2)}`
  );
}

/**
 * Door names and commands come from the config and are echoed back; a control character in them must
 * not be able to forge a second log line, so each one becomes a visible `\xNN` escape.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One LogFile line including its newline: `[2026-11-22 10:35] 10.0.0.2: openSSH: Stage 1\n`. */
export function logFileLine(epochMs: number, offsetAt: UtcOffsetAt, message: string): string {
  return `[${formatLogTimestamp(epochMs, offsetAt)}] ${escapeControlCharacters(message)}\n`;
}

/** The bare message for syslog: no timestamp, no newline, control characters escaped. */
export function syslogMessage(message: string): string {
  return escapeControlCharacters(message);
}

// ---- Lines knockd writes, word for word ----

export function startupMessage(listeningOn: string): string {
  return `starting up, listening on ${listeningOn}`;
}

export function shutdownMessage(): string {
  return 'shutting down';
}

export function reloadMessage(configPath: string): string {
  return `re-reading config file: ${configPath}`;
}

export function stageMessage(source: string, door: string, stage: number): string {
  return `${source}: ${door}: Stage ${stage}`;
}

export function openSesameMessage(source: string, door: string): string {
  return `${source}: ${door}: OPEN SESAME`;
}

/** knockd names the door but not the source here; the substituted command usually shows it. */
export function runningCommandMessage(door: string, command: string): string {
  return `${door}: running command: ${command}`;
}

/** knockd's line for a non-zero exit status. */
export function commandFailedMessage(door: string, exitCode: number): string {
  return `${door}: command returned non-zero status code (${exitCode})`;
}

/** knockd logs this when cmd_timeout has passed, just before the stop command. */
export function commandTimeoutMessage(source: string, door: string): string {
  return `${source}: ${door}: command timeout`;
}

export function sequenceTimeoutMessage(source: string, door: string, stage: number): string {
  return `${source}: ${door}: sequence timeout (stage ${stage})`;
}

export function noMoreOneTimeSequencesMessage(door: string): string {
  return `no more sequences left in the one time sequences file for door ${door} --> disabling the door`;
}

// ---- Lines knockd never wrote, in the same `source: door: text` shape ----

/** `stage` is the number of steps the source had completed before the wrong knock. */
export function sequenceBrokenMessage(
  source: string,
  door: string,
  stage: number,
  got?: { port: number; protocol: Protocol },
): string {
  const detail = got ? `, got ${got.port}:${got.protocol}` : '';
  return `${source}: ${door}: sequence broken (stage ${stage}${detail})`;
}

export function commandExitStatusMessage(source: string, door: string, exitCode: number): string {
  return `${source}: ${door}: command exit status ${exitCode}`;
}

export function commandKilledMessage(source: string, door: string, signal: string): string {
  return `${source}: ${door}: command killed by signal ${signal}`;
}

export function commandOvertimeMessage(source: string, door: string, limitMs: number): string {
  return `${source}: ${door}: command still running after ${formatSeconds(limitMs)} s, killed`;
}

export function commandRefusedMessage(source: string, door: string, reason: string): string {
  return `${source}: ${door}: command not run: ${reason}`;
}

export function closingDoorMessage(source: string, door: string): string {
  return `${source}: ${door}: closing door`;
}

/** Summary for lines a LineLimiter held back, e.g. `suppressed 1520 stage lines in the last 10 s`. */
export function suppressedLinesMessage(count: number, what: string, windowMs: number): string {
  return `suppressed ${count} ${what} lines in the last ${formatSeconds(windowMs)} s`;
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
