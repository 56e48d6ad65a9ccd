import { ErrorCodes, NfknockError } from '../core/errors.js';
import { escapeControlCharacters } from '../logging/knockd-format.js';
import type { PendingClose } from '../state/state-format.js';
import { parseStateLeniently } from '../state/state-salvage.js';
import { journalGeneration, parseJournal, replay } from '../state/journal-format.js';

/** What the state directory says about open doors, read without changing anything. */
export interface StatusSnapshot {
  stateFile: string;
  /** False when the directory or the file does not exist: the daemon has no door to close. */
  found: boolean;
  /** Doors waiting for their stop command, earliest close first. */
  pending: PendingClose[];
  /** Records of the file that could not be used (each names what is lost). */
  problems: string[];
}

/**
 * Pure: the state file's text as a snapshot. A file that is unusable as a whole throws
 * NFK_STATE_CORRUPT; a file with some bad records keeps the good ones and lists the bad.
 */
export function snapshotFromStateText(text: string, stateFile: string): StatusSnapshot {
  return snapshotFromStateFiles(text, [], stateFile);
}

/** A journal of the state directory (journal-format.ts): its name and text. */
export interface JournalText {
  name: string;
  text: string;
}

/**
 * Pure: the snapshot's text (undefined: absent) and the journals on top of it, replayed as the daemon
 * loads them: only the generations from the one the snapshot names, in order; a last line cut short
 * by a crash is no problem (its door never opened).
 */
export function snapshotFromStateFiles(text: string | undefined, journals: readonly JournalText[], stateFile: string): StatusSnapshot {
  const parsed = text === undefined ? { pending: [], problems: [], readable: true } : parseStateLeniently(text);
  if (!parsed.readable) {
    throw new NfknockError(ErrorCodes.STATE_CORRUPT, `the state file is unusable: ${parsed.problems.join('; ')}; the daemon moves it aside at its next start`, {
      location: { file: stateFile },
    });
  }
  const live = new Map(parsed.pending.map((pending) => [pending.id, pending]));
  const problems = [...parsed.problems];
  const first = 'journal' in parsed ? (parsed.journal ?? 0) : 0;
  const ordered = journals
    .map((journal) => ({ ...journal, generation: journalGeneration(journal.name) }))
    .filter((journal): journal is JournalText & { generation: number } => journal.generation !== undefined && journal.generation >= first)
    .sort((a, b) => a.generation - b.generation);
  for (const journal of ordered) {
    const read = parseJournal(journal.text);
    replay(live, read.records);
    problems.push(...read.problems.map((problem) => `${journal.name}${read.readable ? '' : ' is unusable'}: ${problem}`));
  }
  const pending = [...live.values()].sort((a, b) => a.closesAt - b.closesAt || a.door.localeCompare(b.door) || a.source.localeCompare(b.source));
  return { stateFile, found: true, pending, problems };
}

export function missingSnapshot(stateFile: string): StatusSnapshot {
  return { stateFile, found: false, pending: [], problems: [] };
}

/** `4m05s`, `1h02m`, `3d04h`: the time left, precise enough to act on. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

export interface StatusFormatOptions {
  json?: boolean;
}

/** The open doors as a table (or JSON), with the time left at `now` (epoch ms). */
export function formatStatus(snapshot: StatusSnapshot, now: number, options: StatusFormatOptions = {}): string {
  if (options.json) {
    const doors = snapshot.pending.map((p) => ({
      door: p.door,
      source: p.source,
      family: p.family,
      openedAt: new Date(p.openedAt).toISOString(),
      closesAt: new Date(p.closesAt).toISOString(),
      secondsLeft: Math.max(0, Math.ceil((p.closesAt - now) / 1000)),
      overdue: p.closesAt <= now,
      stopCommand: p.stopCommand,
      open: p.open,
    }));
    return `${JSON.stringify({ stateFile: snapshot.stateFile, found: snapshot.found, openDoors: doors, problems: snapshot.problems }, null, 2)}\n`;
  }
  const lines: string[] = [];
  if (!snapshot.found) {
    lines.push(`No open doors: ${snapshot.stateFile} does not exist (no door with a stop command has been opened, or the daemon uses another --state-dir).`);
  } else if (snapshot.pending.length === 0) {
    lines.push('No open doors.');
  } else {
    const rows = snapshot.pending.map((p) => [
      escapeControlCharacters(p.door),
      p.source,
      new Date(p.openedAt).toISOString(),
      new Date(p.closesAt).toISOString(),
      p.closesAt <= now ? `overdue by ${formatDuration(now - p.closesAt)}` : formatDuration(p.closesAt - now),
    ]);
    lines.push(...table(['DOOR', 'SOURCE', 'OPENED', 'CLOSES', 'LEFT'], rows));
    if (snapshot.pending.some((p) => p.closesAt <= now)) {
      lines.push('', 'An overdue door is closed by the daemon within a second; if it stays listed, the daemon is not running: start it and it closes the door.');
    }
  }
  if (snapshot.found) lines.push('', 'Doors opened without a Stop_Command are not tracked here (Open = doors are): nothing closes them.');
  for (const problem of snapshot.problems) lines.push(`problem: ${escapeControlCharacters(problem)}`);
  return `${lines.join('\n')}\n`;
}

export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ');
  return [render(header), ...rows.map(render)];
}
