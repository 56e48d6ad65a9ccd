/**
 * A snapshot as Prometheus text exposition format 0.0.4, for node_exporter's textfile collector.
 * Pure. Label values are door names from the config and reject reasons from the decoders: every
 * one is escaped, so no name can end a label, start a sample or forge a series.
 */
import type { DoorFigures, MetricsSnapshot } from './snapshot.js';

type Kind = 'counter' | 'gauge';
type Labels = ReadonlyArray<readonly [string, string]>;

interface Family {
  name: string;
  kind: Kind;
  help: string;
  samples: Array<{ labels: Labels; value: number }>;
}

/**
 * `\` `"` and newline are escaped as the format requires; lone UTF-16 surrogates (which no UTF-8
 * config holds, but a JS string can) become U+FFFD, as the exposition must be valid UTF-8.
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\p{Cs}/gu, '\uFFFD').replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes only `\` and newline. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function seconds(epochMs: number): number {
  return epochMs / 1000;
}

function perDoor(snapshot: MetricsSnapshot, value: (figures: DoorFigures) => number): Family['samples'] {
  return [...snapshot.doors].map(([door, figures]) => ({ labels: [['door', door]] as const, value: value(figures) }));
}

function families(snapshot: MetricsSnapshot): Family[] {
  const one = (value: number): Family['samples'] => [{ labels: [], value }];
  const byLabel = (label: string, map: ReadonlyMap<string, number>): Family['samples'] =>
    [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ labels: [[label, key]] as const, value }));
  return [
    { name: 'nfknock_build_info', kind: 'gauge', help: 'Version of the running nfknockd; always 1.', samples: [{ labels: [['version', snapshot.version]], value: 1 }] },
    { name: 'nfknock_start_time_seconds', kind: 'gauge', help: 'When nfknockd started, in seconds since the epoch.', samples: one(seconds(snapshot.startedAt)) },
    { name: 'nfknock_events_total', kind: 'counter', help: 'Knock events read, by source kind.', samples: byLabel('source', snapshot.events) },
    { name: 'nfknock_rejects_total', kind: 'counter', help: 'Inputs dropped before matching, by reason.', samples: byLabel('reason', snapshot.rejects) },
    { name: 'nfknock_overruns_total', kind: 'counter', help: 'Times the kernel dropped knock events before nfknockd read them.', samples: one(snapshot.overruns) },
    { name: 'nfknock_attempts_in_progress', kind: 'gauge', help: 'Sources part-way through a sequence.', samples: one(snapshot.attemptsInProgress) },
    { name: 'nfknock_evictions_total', kind: 'counter', help: 'Attempts in progress dropped to keep within MaxAttempts.', samples: one(snapshot.evictions) },
    { name: 'nfknock_opens_total', kind: 'counter', help: 'Correct sequences (OPEN SESAME), by door.', samples: perDoor(snapshot, (d) => d.opens) },
    { name: 'nfknock_closes_total', kind: 'counter', help: 'Doors closed (stop command succeeded), by door.', samples: perDoor(snapshot, (d) => d.closes) },
    { name: 'nfknock_open_doors', kind: 'gauge', help: 'Open doors with a stop command still to run, by door.', samples: perDoor(snapshot, (d) => d.open) },
    { name: 'nfknock_replays_refused_total', kind: 'counter', help: 'Used one-time or time-based sequences knocked again and refused, by door.', samples: perDoor(snapshot, (d) => d.replaysRefused) },
    {
      name: 'nfknock_command_failures_total',
      kind: 'counter',
      help: 'Start and stop commands that failed (non-zero status, signal or timeout), by door and kind.',
      samples: [...snapshot.doors].flatMap(([door, figures]) =>
        (['start', 'stop'] as const).map((kind) => ({ labels: [['door', door], ['kind', kind]] as const, value: figures.commandFailures[kind] })),
      ),
    },
    { name: 'nfknock_stop_retrying', kind: 'gauge', help: '1 while a stop command of the door keeps failing: the door may still be open.', samples: perDoor(snapshot, (d) => (d.stopRetrying ? 1 : 0)) },
    { name: 'nfknock_last_event_timestamp_seconds', kind: 'gauge', help: 'When the last knock event was seen, in seconds since the epoch; 0 if none yet.', samples: one(snapshot.lastEventAt === undefined ? 0 : seconds(snapshot.lastEventAt)) },
    { name: 'nfknock_config_reload_success', kind: 'gauge', help: '1 if the last configuration load (start or SIGHUP) succeeded, 0 if it was refused.', samples: one(snapshot.reload.success ? 1 : 0) },
    { name: 'nfknock_config_reload_timestamp_seconds', kind: 'gauge', help: 'When the configuration was last loaded successfully, in seconds since the epoch.', samples: one(seconds(snapshot.reload.at)) },
  ];
}

export function renderPrometheus(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const family of families(snapshot)) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.kind}`);
    for (const sample of family.samples) {
      const labels = sample.labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',');
      lines.push(`${family.name}${labels === '' ? '' : `{${labels}}`} ${formatSampleValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
