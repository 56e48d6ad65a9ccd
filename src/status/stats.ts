/**
 * `nfknock status --stats`: the daemon's live figures from stats.json, laid out the way
 * `fail2ban-client status <jail>` lays out a jail, so an admin reads both the same way. Pure.
 */
import { escapeControlCharacters } from '../logging/knockd-format.js';
import type { Stats } from '../metrics/stats-file.js';
import { formatDuration } from './status.js';

/** Four missed 15 s writes: the daemon is most likely not running any more. */
const STALE_AFTER_MS = 60_000;

type Node = [label: string, value: string] | [label: string, children: Node[]];

function render(nodes: Node[], indent: string, lines: string[]): void {
  nodes.forEach(([label, content], index) => {
    const last = index === nodes.length - 1;
    if (typeof content === 'string') {
      lines.push(`${indent}${last ? '`-' : '|-'} ${label}:\t${content}`);
      return;
    }
    lines.push(`${indent}${last ? '`-' : '|-'} ${label}`);
    render(content, `${indent}${last ? '   ' : '|  '}`, lines);
  });
}

function when(epochMs: number, now: number): string {
  const age = now - epochMs;
  return `${new Date(epochMs).toISOString()} (${age >= 0 ? `${formatDuration(age)} ago` : 'in the future: check the clock'})`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** `12 (nflog 12)`: the total, then each non-zero part. */
function withParts(parts: ReadonlyArray<readonly [string, number]>): string {
  const shown = parts.filter(([, count]) => count > 0).map(([name, count]) => `${escapeControlCharacters(name)} ${count}`);
  const total = sum(parts.map(([, count]) => count));
  return shown.length === 0 ? String(total) : `${total} (${shown.join(', ')})`;
}

export function formatStats(stats: Stats, now: number, statsFile: string): string {
  const lines = [`Status of nfknockd ${escapeControlCharacters(stats.version)}, pid ${stats.pid}, up since ${when(stats.startedAt, now)}`];
  const doors = stats.doors;
  const failures = (kind: 'start' | 'stop') => sum(doors.map((d) => d.commandFailures[kind]));
  const retrying = doors.filter((d) => d.stopRetrying).map((d) => escapeControlCharacters(d.door));
  const nodes: Node[] = [
    [
      'Knocks',
      [
        ['Events read', withParts(stats.events.map((e) => [e.source, e.count] as const))],
        ['Attempts in progress', String(stats.attemptsInProgress)],
        ['Rejected', withParts(stats.rejects.map((r) => [r.reason, r.count] as const))],
        ['Overruns', String(stats.overruns)],
        ['Evictions', String(stats.evictions)],
        ['Last event', stats.lastEventAt === null ? 'none yet' : when(stats.lastEventAt, now)],
      ],
    ],
    [
      'Doors',
      [
        ['Currently open', String(sum(doors.map((d) => d.open)))],
        ['Total opened', String(sum(doors.map((d) => d.opens)))],
        ['Total closed', String(sum(doors.map((d) => d.closes)))],
        ['Replays refused', String(sum(doors.map((d) => d.replaysRefused)))],
        ['Command failures', `start ${failures('start')}, stop ${failures('stop')}`],
        ['Stop command failing', retrying.length === 0 ? 'none' : `${retrying.join(', ')} (THE DOOR MAY STILL BE OPEN)`],
        ...doors.map((d): Node => [
          `Door ${escapeControlCharacters(d.door)}`,
          `open ${d.open}, opened ${d.opens}, closed ${d.closes}, replays refused ${d.replaysRefused}, failed start ${d.commandFailures.start} stop ${d.commandFailures.stop}`,
        ]),
      ],
    ],
    ['Configuration', [['Last reload', `${stats.reload.success ? 'accepted' : 'REFUSED, still running the one'} loaded ${when(stats.reload.at, now)}`]]],
  ];
  render(nodes, '', lines);
  if (stats.stopped) {
    lines.push('', `nfknockd stopped at ${when(stats.writtenAt, now)}: these are its last figures.`);
  } else if (now - stats.writtenAt > STALE_AFTER_MS) {
    lines.push('', `${statsFile} was last written ${formatDuration(now - stats.writtenAt)} ago: nfknockd is probably not running; these are its last figures.`);
  }
  return `${lines.join('\n')}\n`;
}
