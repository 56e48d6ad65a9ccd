/**
 * The persisted pending closes: every door opened with a cmd_timeout has its stop command (and, for an
 * `Open =` door, its kernel entries) written here before it opens, so a crash or reboot cannot leave it
 * open. Records of earlier versions (a stopCommand, no `open`) read unchanged.
 *
 * Trust: the file holds shell commands that the daemon runs as root. It lives in a directory that the
 * store creates 0700 and checks is owned by the daemon's user and not writable by group or others;
 * anyone who can write there is already root. An HMAC would need a key stored in the same place, so it
 * would add nothing. What this parser does guarantee: a damaged or hand-edited file can never crash the
 * daemon or run something malformed. Every field is type-checked, `source` must be the canonical spelling
 * of an address of the stated family, commands and names must be single-line text, and one bad record
 * is reported and skipped without losing the others.
 */
import { canonicalAddress } from '../core/address.js';
import type { PendingClose } from '../doors/pending-close.js';
import { parseFirewallEpoch } from '../core/firewall-epoch.js';
import { MAX_DOOR_NAME_LENGTH, MAX_STATE_COMMAND_LENGTH } from '../core/limits.js';
import { checkOpening } from '../firewall/opening-record.js';

export type { PendingClose };

export const STATE_FORMAT = 'nfknock-state';
export const STATE_VERSION = 1;

export interface ParsedState {
  pending: PendingClose[];
  /** Human-readable reasons for each record or file-level defect; empty when the file was clean. */
  problems: string[];
  /** False when the file as a whole is unusable (not JSON, wrong format, newer version). */
  readable: boolean;
  /**
   * The first journal generation recorded on top of this snapshot (journal-format.ts); older journals
   * are already in it. Absent in files of earlier versions: every journal counts.
   */
  journal?: number;
}

/** `journal`: see ParsedState.journal; earlier versions ignore the field and read the same records. */
export function serializeState(pending: readonly PendingClose[], journal?: number): string {
  const records = pending.map(recordFields);
  const head = journal === undefined ? { format: STATE_FORMAT, version: STATE_VERSION } : { format: STATE_FORMAT, version: STATE_VERSION, journal };
  return `${JSON.stringify({ ...head, pending: records }, null, 2)}\n`;
}

/** The fields a pending close is saved with, in a fixed order (the journal writes the same object). */
export function recordFields(p: PendingClose): Record<string, unknown> {
  return {
    id: p.id,
    door: p.door,
    source: p.source,
    family: p.family,
    ...(p.stopCommand === undefined ? {} : { stopCommand: p.stopCommand }),
    ...(p.open === undefined ? {} : { open: p.open }),
    openedAt: p.openedAt,
    closesAt: p.closesAt,
    ...(p.firewall ? { firewall: p.firewall } : {}),
  };
}

const MAX_ID = 128;
const MAX_DOOR = MAX_DOOR_NAME_LENGTH;
const MAX_COMMAND = MAX_STATE_COMMAND_LENGTH;
const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
// Tabs are allowed: commands keep every byte of the config, and hand-edited configs use tabs.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function parseState(text: string): ParsedState {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return unreadable(`not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(document)) return unreadable('not a JSON object');
  if (document.format !== STATE_FORMAT) return unreadable(`"format" is not "${STATE_FORMAT}"`);
  if (document.version !== STATE_VERSION) {
    return unreadable(`unsupported version ${JSON.stringify(document.version)} (this nfknock reads version ${STATE_VERSION})`);
  }
  if (!Array.isArray(document.pending)) return unreadable('"pending" is not an array');
  const journal = Number.isSafeInteger(document.journal) && (document.journal as number) >= 0 ? (document.journal as number) : undefined;

  const pending: PendingClose[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  document.pending.forEach((raw: unknown, index: number) => {
    const checked = checkRecord(raw);
    if (typeof checked === 'string') {
      problems.push(`pending[${index}]${describe(raw)}: ${checked}`);
    } else if (seen.has(checked.id)) {
      problems.push(`pending[${index}]${describe(raw)}: duplicate id ${JSON.stringify(checked.id)}`);
    } else {
      seen.add(checked.id);
      pending.push(checked);
    }
  });
  return { pending, problems, readable: true, ...(journal === undefined ? {} : { journal }) };
}

/** One pending close as the state file and the journal hold it: the record, or why it cannot be used. */
export function checkRecord(raw: unknown): PendingClose | string {
  if (!isRecord(raw)) return 'not an object';
  const { id, door, source, family, stopCommand, open, openedAt, closesAt } = raw;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID || !ID_PATTERN.test(id)) {
    return '"id" must be 1-128 characters of A-Z a-z 0-9 . _ : -';
  }
  if (typeof door !== 'string' || door.length === 0 || door.length > MAX_DOOR || CONTROL.test(door)) {
    return '"door" must be a non-empty single-line name';
  }
  if (family !== 4 && family !== 6) return '"family" must be 4 or 6';
  if (typeof source !== 'string') return '"source" must be an address';
  const canonical = canonicalAddress(source);
  if (!canonical || canonical.address !== source || canonical.family !== family) {
    return `"source" ${JSON.stringify(source)} is not the canonical spelling of an IPv${family} address`;
  }
  if (stopCommand !== undefined && (typeof stopCommand !== 'string' || stopCommand.trim().length === 0 || stopCommand.length > MAX_COMMAND || CONTROL.test(stopCommand))) {
    return '"stopCommand" must be a non-empty single-line command';
  }
  const opening = open === undefined ? undefined : checkOpening(open);
  if (typeof opening === 'string') return `"open" ${opening}`;
  if (stopCommand === undefined && opening === undefined) return 'neither "stopCommand" nor "open": nothing would close the door';
  if (!isEpochMs(openedAt)) return '"openedAt" must be epoch milliseconds';
  if (!isEpochMs(closesAt)) return '"closesAt" must be epoch milliseconds';
  if (closesAt < openedAt) return '"closesAt" is before "openedAt"';
  const firewall = parseFirewallEpoch(raw.firewall);
  return { id, door, source, family, ...(stopCommand === undefined ? {} : { stopCommand }), ...(opening === undefined ? {} : { open: opening }), openedAt, closesAt, ...(firewall ? { firewall } : {}) };
}

function isEpochMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Door and source of a rejected record when they are readable, so the operator knows what to close by hand. */
export function describe(raw: unknown): string {
  if (!isRecord(raw)) return '';
  const parts: string[] = [];
  if (typeof raw.door === 'string') parts.push(`door ${JSON.stringify(raw.door.slice(0, MAX_DOOR))}`);
  if (typeof raw.source === 'string') parts.push(`source ${JSON.stringify(raw.source.slice(0, 64))}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function unreadable(reason: string): ParsedState {
  return { pending: [], problems: [reason], readable: false };
}

/** A pending close this file would not give back must not open its door: its close would be lost. */
export function survivesRoundTrip(pending: PendingClose): boolean {
  const parsed = parseState(serializeState([pending]));
  return parsed.problems.length === 0 && parsed.pending.length === 1;
}

/**
 * The used time steps of time-based doors, by door name (time-steps.json): a step that opened a door
 * must not open it again after a restart. A plain JSON object of door -> steps; a Map in memory.
 */
export function serializeUsedSteps(usedSteps: ReadonlyMap<string, readonly number[]>): string {
  return `${JSON.stringify(Object.fromEntries(usedSteps))}\n`;
}

/** Throws on a file that is not such an object; entries that are not lists of integers are skipped. */
export function parseUsedSteps(text: string): Map<string, number[]> {
  const parsed = JSON.parse(text) as unknown;
  if (!isRecord(parsed)) throw new Error('not an object');
  const result = new Map<string, number[]>();
  for (const [door, steps] of Object.entries(parsed)) {
    if (Array.isArray(steps) && steps.every((step) => Number.isSafeInteger(step))) result.set(door, steps as number[]);
  }
  return result;
}
