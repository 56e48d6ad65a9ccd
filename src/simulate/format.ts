import { escapeControlCharacters } from '../logging/knockd-format.js';
import type { ClockKind } from './input.js';
import type { SimulatedEvent, SimulationReport } from './simulate.js';

export interface FormatOptions {
  json?: boolean;
  /** Also list every skipped line with its number and reason (the report must have kept them). */
  verbose?: boolean;
}

/** `2026-11-22T10:09:01.036Z` on the wall clock, `+94.631s` since boot. */
export function formatTime(at: number, clock: ClockKind): string {
  if (clock === 'boot') return `+${(at / 1000).toFixed(3)}s`;
  return new Date(at).toISOString();
}

/** The report as text for a person, or as one JSON document (times in epoch ms, or ms since boot). */
export function formatReport(report: SimulationReport, options: FormatOptions = {}): string {
  if (options.json) {
    const { skippedLines: _skippedLines, ...rest } = report;
    return `${JSON.stringify(options.verbose ? report : rest, null, 2)}\n`;
  }
  const out: string[] = [];
  for (const event of report.events) out.push(...describeEvent(event, report.clock));
  if (report.events.length > 0) out.push('');
  out.push(...summary(report));
  if (options.verbose && report.skippedLines.length > 0) {
    out.push('', 'Skipped lines:');
    for (const skipped of report.skippedLines) out.push(`  line ${skipped.line}: ${skipped.reason}: ${escapeControlCharacters(skipped.text)}`);
  }
  return `${out.join('\n')}\n`;
}

function describeEvent(event: SimulatedEvent, clock: ClockKind): string[] {
  const head = `${formatTime(event.at, clock)}  ${event.source}  ${escapeControlCharacters(event.door)}: `;
  const where = event.line !== undefined ? `  [line ${event.line}]` : event.afterInput ? '  [after the last line]' : '';
  const command = (text: string) => escapeControlCharacters(text);
  switch (event.kind) {
    case 'stage':
      return [`${head}stage ${event.stage}${where}`];
    case 'broken':
      return [`${head}sequence broken after stage ${event.stage} by ${event.port}/${event.protocol}${where}`];
    case 'timeout':
      return [`${head}sequence timeout after stage ${event.stage}${where}`];
    case 'evicted':
      return [`${head}attempt at stage ${event.stage} dropped: too many attempts in progress (MaxAttempts)${where}`];
    case 'replay':
      return [`${head}sequence ${event.sequence} already used, replay refused${where}`];
    case 'close':
      return [`${head}CLOSE (opened ${formatTime(event.openedAt, clock)})${where}`, `    stop command: ${command(event.stopCommand)}`];
    case 'open': {
      if (event.effect === 'extend') {
        return [
          `${head}OPEN SESAME (${event.sequence}), already open: now closes at ${formatTime(event.closesAt ?? event.at, clock)} instead of ${formatTime(event.previousClosesAt ?? event.at, clock)}${where}`,
        ];
      }
      const lines = [`${head}OPEN SESAME (${event.sequence})${where}`];
      lines.push(event.startCommand === undefined ? '    no start command' : `    start command: ${command(event.startCommand)}`);
      if (event.stopCommand !== undefined && event.closesAt !== undefined) lines.push(`    closes at ${formatTime(event.closesAt, clock)}`);
      else lines.push('    no stop command: nothing closes this door');
      return lines;
    }
  }
}

function summary(report: SimulationReport): string[] {
  const lines = ['Summary:'];
  const formats = Object.entries(report.formats)
    .map(([format, count]) => `${format} ${count}`)
    .join(', ');
  lines.push(`  ${report.lines} line(s) read, ${report.knocks} knock line(s)${formats ? ` (${formats})` : ''}`);
  const skipped = Object.entries(report.skipped).sort((a, b) => b[1] - a[1]);
  const skippedTotal = skipped.reduce((sum, [, count]) => sum + count, 0);
  if (skippedTotal > 0) {
    lines.push(`  ${skippedTotal} line(s) were not knocks (--verbose lists them):`);
    for (const [reason, count] of skipped) lines.push(`    ${String(count).padStart(7)}  ${reason}`);
  }
  if (report.firstKnockAt !== undefined && report.lastKnockAt !== undefined) {
    lines.push(`  knocks from ${formatTime(report.firstKnockAt, report.clock)} to ${formatTime(report.lastKnockAt, report.clock)}`);
  }
  const count = (kind: SimulatedEvent['kind']) => report.events.filter((event) => event.kind === kind).length;
  const started = report.opens.filter((open) => open.effect === 'start').length;
  const extended = report.opens.length - started;
  const neverClosed = report.opens.filter((open) => open.effect === 'start' && open.closesAt === undefined).length;
  lines.push(
    `  doors opened: ${started}${extended > 0 ? ` (plus ${extended} re-knock(s) that extended an open door)` : ''}, closed: ${count('close')}` +
      (neverClosed > 0 ? `, without a stop command: ${neverClosed}` : ''),
  );
  lines.push(`  stages: ${count('stage')}, broken sequences: ${count('broken')}, timeouts: ${count('timeout')}, replays refused: ${count('replay')}, evicted: ${count('evicted')}`);
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}
