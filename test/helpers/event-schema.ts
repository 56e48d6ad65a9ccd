/**
 * docs/events.md as a schema: the event values and fields its tables list. Tests check the records
 * the daemon writes against it, so the document cannot fall behind the code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoFile } from './repo-file.js';

export interface EventSchema {
  version: number;
  /** Fields of every record (pino's). */
  common: ReadonlySet<string>;
  /** Event value -> the fields it may carry besides `event` and the common ones. */
  events: ReadonlyMap<string, ReadonlySet<string>>;
}

export function eventsDocPath(): string {
  return repoFile(join('docs', 'events.md'));
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

export function parseEventSchema(markdown: string): EventSchema {
  const version = /^Schema version: (\d+)$/m.exec(markdown);
  if (!version) throw new Error('docs/events.md has no "Schema version: N" line');
  const common = new Set<string>();
  const events = new Map<string, Set<string>>();
  let section = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').slice(1, -1);
    const first = backticked(cells[0] ?? '');
    if (first.length !== 1) throw new Error(`docs/events.md: a table row names no single field or event: ${line}`);
    const name = first[0] as string;
    if (section === 'Fields every record has') common.add(name);
    else if (section === 'Events') {
      if (events.has(name)) throw new Error(`docs/events.md lists event ${name} twice`);
      events.set(name, new Set(backticked(cells[1] ?? '')));
    }
  }
  if (common.size === 0 || events.size === 0) throw new Error('docs/events.md: no common fields or no events found');
  return { version: Number(version[1]), common, events };
}

export function loadEventSchema(): EventSchema {
  return parseEventSchema(readFileSync(eventsDocPath(), 'utf8'));
}

/** What a record has that the schema does not list; records without `event` are diagnostics. */
export function undocumented(record: Record<string, unknown>, schema: EventSchema): string[] {
  const event = record['event'];
  if (event === undefined) return [];
  if (typeof event !== 'string') return [`event is not a string: ${JSON.stringify(event)}`];
  const fields = schema.events.get(event);
  if (!fields) return [`event "${event}" is not in docs/events.md`];
  return Object.keys(record)
    .filter((key) => key !== 'event' && !schema.common.has(key) && !fields.has(key))
    .map((key) => `event "${event}" has field "${key}", not in docs/events.md`);
}
