/**
 * The journal of pending closes (pending-closes.journal.<generation>): what changed since the snapshot
 * (pending-closes.json) was written, one line per decision, appended and fdatasync'd, so that a
 * decision writes a few hundred bytes however many doors are open. Pure.
 *
 *   nfknock-journal 1
 *   opened {"id":"…","door":"…",…}      a door opened, or its pending close changed (same id: replaces)
 *   closed "…id…"                       its stop command ran: forget it
 *
 * A line is only there once its "\n" is: a crash in the middle of an append leaves a last line without
 * one, which is ignored (its decision was never confirmed, so its door never opened). Records are
 * checked like the snapshot's (state-format.ts): a bad one is reported and skipped, never run.
 */
import { checkRecord, describe, recordFields, type PendingClose } from './state-format.js';

export const JOURNAL_HEADER = 'nfknock-journal 1';
const JOURNAL_NAME = /^pending-closes\.journal\.(\d{1,15})$/;

export type JournalRecord = { opened: PendingClose } | { closed: string };

export function journalFileName(generation: number): string {
  return `pending-closes.journal.${generation}`;
}

/** The generation a state directory entry is the journal of, or undefined for any other name. */
export function journalGeneration(name: string): number | undefined {
  const match = JOURNAL_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function journalLine(record: JournalRecord): string {
  return 'opened' in record ? `opened ${JSON.stringify(recordFields(record.opened))}\n` : `closed ${JSON.stringify(record.closed)}\n`;
}

export interface ParsedJournal {
  records: JournalRecord[];
  /** Lines that were skipped, each naming what may be lost. */
  problems: string[];
  /** A last line cut short by a crash mid-append: harmless, reported quietly. */
  torn?: string;
  /** False when the file is not a journal this version reads (its header): nothing of it is used. */
  readable: boolean;
}

export function parseJournal(text: string): ParsedJournal {
  const lines = text.split('\n');
  const last = lines.pop() as string;
  const torn = last === '' ? undefined : `a last line cut short (${last.length} bytes, a crash mid-append) was ignored`;
  const quiet = torn === undefined ? {} : { torn };
  if (lines.length === 0) return { records: [], problems: [], readable: true, ...quiet };
  if (lines[0] !== JOURNAL_HEADER) return { records: [], problems: [`the first line is not "${JOURNAL_HEADER}"`], readable: false };
  const records: JournalRecord[] = [];
  const problems: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const parsed = parseLine(lines[i] as string);
    if (typeof parsed === 'string') problems.push(`line ${i + 1}: ${parsed}`);
    else records.push(parsed);
  }
  return { records, problems, readable: true, ...quiet };
}

function parseLine(line: string): JournalRecord | string {
  const space = line.indexOf(' ');
  const verb = space < 0 ? line : line.slice(0, space);
  let value: unknown;
  try {
    value = JSON.parse(line.slice(space + 1));
  } catch {
    return `not a journal record${verb === 'opened' || verb === 'closed' ? ` (${verb}, its JSON is damaged)` : ''}`;
  }
  if (verb === 'closed') return typeof value === 'string' && value.length > 0 ? { closed: value } : '"closed" without an id';
  if (verb !== 'opened') return `unknown record "${verb.slice(0, 16)}"`;
  const checked = checkRecord(value);
  return typeof checked === 'string' ? `opened${describe(value)}: ${checked}` : { opened: checked };
}

/** Applies records in order to the pending closes by id (a Map keeps the order doors were first recorded). */
export function replay(live: Map<string, PendingClose>, records: readonly JournalRecord[]): void {
  for (const record of records) {
    if ('opened' in record) live.set(record.opened.id, record.opened);
    else live.delete(record.closed);
  }
}
