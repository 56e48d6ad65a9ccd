/**
 * stats.json: the snapshot the Prometheus file shows, as JSON for `nfknock status --stats`. Pure.
 * Names (doors, reasons, source kinds) are values in arrays, never object keys, so no name can
 * collide with an object's own properties on either side.
 */
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { CommandKind, DoorFigures, MetricsSnapshot } from './snapshot.js';

/** Bumped when a field changes meaning or goes away; new fields do not bump it. */
export const STATS_FORMAT = 1;

export interface StatsDoor extends DoorFigures {
  door: string;
}

export interface Stats {
  format: number;
  version: string;
  pid: number;
  startedAt: number;
  writtenAt: number;
  source: string;
  events: Array<{ source: string; count: number }>;
  rejects: Array<{ reason: string; count: number }>;
  overruns: number;
  evictions: number;
  attemptsInProgress: number;
  doors: StatsDoor[];
  lastEventAt: number | null;
  reload: { success: boolean; at: number };
  /** The daemon wrote this as it stopped. */
  stopped: boolean;
}

export function statsFromSnapshot(snapshot: MetricsSnapshot): Stats {
  return {
    format: STATS_FORMAT,
    version: snapshot.version,
    pid: snapshot.pid,
    startedAt: snapshot.startedAt,
    writtenAt: snapshot.takenAt,
    source: snapshot.source,
    events: [...snapshot.events].map(([source, count]) => ({ source, count })),
    rejects: [...snapshot.rejects].map(([reason, count]) => ({ reason, count })),
    overruns: snapshot.overruns,
    evictions: snapshot.evictions,
    attemptsInProgress: snapshot.attemptsInProgress,
    doors: [...snapshot.doors].map(([door, figures]) => ({ door, ...figures, commandFailures: { ...figures.commandFailures } })),
    // Event stamps may carry microseconds; the file keeps whole milliseconds.
    lastEventAt: snapshot.lastEventAt === undefined ? null : Math.round(snapshot.lastEventAt),
    reload: { ...snapshot.reload },
    stopped: snapshot.stopped,
  };
}

export function renderStats(snapshot: MetricsSnapshot): string {
  return `${JSON.stringify(statsFromSnapshot(snapshot), null, 2)}\n`;
}

/** Reads stats.json back, checking every field: `--stats-file` may name any file. */
export function parseStats(text: string, file: string): Stats {
  const fail = (what: string): never => {
    throw new NfknockError(ErrorCodes.STATE_CORRUPT, `${file} is not an nfknock stats file: ${what}`, { location: { file } });
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  const root = record(value) ?? fail('not a JSON object');
  const format = count(root.get('format')) ?? fail('no "format"');
  if (format !== STATS_FORMAT) fail(`format ${format}; this nfknock reads format ${STATS_FORMAT} (the daemon and the CLI differ in version)`);
  const field = <T>(name: string, read: (v: unknown) => T | undefined): T => read(root.get(name)) ?? fail(`"${name}" is missing or of the wrong type`);
  const pairs = <K extends string>(name: string, key: K) =>
    field(name, (v) => list(v, (item) => {
      const entry = record(item);
      const k = text_(entry?.get(key));
      const n = count(entry?.get('count'));
      return k === undefined || n === undefined ? undefined : ({ [key]: k, count: n } as { [P in K]: string } & { count: number });
    }));
  const reload = field('reload', (v) => {
    const entry = record(v);
    const success = entry?.get('success');
    const at = count(entry?.get('at'));
    return typeof success === 'boolean' && at !== undefined ? { success, at } : undefined;
  });
  const lastEventAt = root.get('lastEventAt');
  return {
    format,
    version: field('version', text_),
    pid: field('pid', count),
    startedAt: field('startedAt', count),
    writtenAt: field('writtenAt', count),
    source: field('source', text_),
    events: pairs('events', 'source'),
    rejects: pairs('rejects', 'reason'),
    overruns: field('overruns', count),
    evictions: field('evictions', count),
    attemptsInProgress: field('attemptsInProgress', count),
    doors: field('doors', (v) => list(v, door)),
    lastEventAt: lastEventAt === null ? null : (count(lastEventAt) ?? fail('"lastEventAt" is of the wrong type')),
    reload,
    stopped: field('stopped', (v) => (typeof v === 'boolean' ? v : undefined)),
  };
}

function door(value: unknown): StatsDoor | undefined {
  const entry = record(value);
  if (!entry) return undefined;
  const failures = record(entry.get('commandFailures'));
  const kinds: CommandKind[] = ['start', 'stop'];
  const commandFailures = { start: count(failures?.get('start')), stop: count(failures?.get('stop')) };
  const stopRetrying = entry.get('stopRetrying');
  const result = {
    door: text_(entry.get('door')),
    opens: count(entry.get('opens')),
    closes: count(entry.get('closes')),
    open: count(entry.get('open')),
    replaysRefused: count(entry.get('replaysRefused')),
  };
  if (Object.values(result).some((v) => v === undefined) || kinds.some((k) => commandFailures[k] === undefined) || typeof stopRetrying !== 'boolean') return undefined;
  return { ...(result as Omit<StatsDoor, 'commandFailures' | 'stopRetrying'>), commandFailures: commandFailures as Record<CommandKind, number>, stopRetrying };
}

function record(value: unknown): Map<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? new Map(Object.entries(value)) : undefined;
}

function list<T>(value: unknown, item: (v: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items = value.map(item);
  return items.every((v) => v !== undefined) ? (items as T[]) : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function text_(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
