/**
 * The V8 settings nfknockd runs with under its systemd unit, read from the unit file itself, so the bench
 * measures the daemon as it is deployed and the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The value of NODE_OPTIONS set by the unit's `Environment=` lines ('' when none); pure. */
export function nodeOptionsOfUnit(unitText: string): string {
  let value = '';
  for (const line of unitText.split('\n')) {
    const match = /^\s*Environment\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    for (const assignment of environmentAssignments(match[1] ?? '')) {
      if (assignment.startsWith('NODE_OPTIONS=')) value = assignment.slice('NODE_OPTIONS='.length);
    }
  }
  return value;
}

/** systemd.exec(5): space-separated assignments, each optionally double-quoted as a whole ("A=b c"). */
function environmentAssignments(text: string): string[] {
  const assignments: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of text.matchAll(pattern)) assignments.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? ''));
  return assignments;
}

export function unitNodeOptions(repoRoot: string): string {
  return nodeOptionsOfUnit(readFileSync(join(repoRoot, 'systemd', 'nfknockd.service'), 'utf8'));
}
