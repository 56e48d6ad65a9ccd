import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeLabelValue, renderPrometheus } from '../src/metrics/prometheus.js';
import { DoorActivity, takeSnapshot, type DoorFigures, type MetricsSnapshot } from '../src/metrics/snapshot.js';

function door(overrides: Partial<DoorFigures> = {}): DoorFigures {
  return { opens: 0, closes: 0, open: 0, replaysRefused: 0, commandFailures: { start: 0, stop: 0 }, stopRetrying: false, ...overrides };
}

function snapshot(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    version: '0.1.0',
    pid: 42,
    startedAt: 1_700_000_000_000,
    takenAt: 1_700_000_100_000,
    source: 'nflog',
    events: new Map([['nflog', 7]]),
    rejects: new Map([['wrong-prefix', 2]]),
    overruns: 0,
    evictions: 1,
    attemptsInProgress: 3,
    doors: new Map([['openSSH', door({ opens: 2, closes: 1, open: 1, commandFailures: { start: 0, stop: 1 }, stopRetrying: true })]]),
    lastEventAt: 1_700_000_099_500,
    reload: { success: true, at: 1_700_000_000_000 },
    stopped: false,
    ...overrides,
  };
}

test('a snapshot renders every series with HELP and TYPE, labelled only by door, kind, reason or source', () => {
  const text = renderPrometheus(snapshot());
  const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  assert.deepEqual(samples, [
    'nfknock_build_info{version="0.1.0"} 1',
    'nfknock_start_time_seconds 1700000000',
    'nfknock_events_total{source="nflog"} 7',
    'nfknock_rejects_total{reason="wrong-prefix"} 2',
    'nfknock_overruns_total 0',
    'nfknock_attempts_in_progress 3',
    'nfknock_evictions_total 1',
    'nfknock_opens_total{door="openSSH"} 2',
    'nfknock_closes_total{door="openSSH"} 1',
    'nfknock_open_doors{door="openSSH"} 1',
    'nfknock_replays_refused_total{door="openSSH"} 0',
    'nfknock_command_failures_total{door="openSSH",kind="start"} 0',
    'nfknock_command_failures_total{door="openSSH",kind="stop"} 1',
    'nfknock_stop_retrying{door="openSSH"} 1',
    'nfknock_last_event_timestamp_seconds 1700000099.5',
    'nfknock_config_reload_success 1',
    'nfknock_config_reload_timestamp_seconds 1700000000',
  ]);
  assert.match(text, /^# HELP nfknock_open_doors .+\n# TYPE nfknock_open_doors gauge\n/m);
  assert.match(text, /^# TYPE nfknock_opens_total counter$/m);
  assert.ok(text.endsWith('\n'));
});

test('no event yet is a 0 timestamp, and a refused reload is 0', () => {
  const text = renderPrometheus(snapshot({ lastEventAt: undefined, reload: { success: false, at: 5000 } }));
  assert.match(text, /^nfknock_last_event_timestamp_seconds 0$/m);
  assert.match(text, /^nfknock_config_reload_success 0$/m);
  assert.match(text, /^nfknock_config_reload_timestamp_seconds 5$/m);
});

test('label values escape backslash, double quote and newline, and lone surrogates', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue('x\uD800y'), 'x\uFFFDy');
  assert.equal(escapeLabelValue('ok 😀'), 'ok 😀');
});

/** The exposition grammar of a sample line, strict enough that a forged line or label fails it. */
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(nfknock_[a-z_]+)(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (-?[0-9.e+]+|NaN|[+-]Inf)$`);

const LABEL_CAPTURE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

test('property: any door names and reasons give a valid exposition whose labels read back as the names', () => {
  const name = fc.string({ unit: 'binary', maxLength: 20 });
  fc.assert(
    fc.property(fc.uniqueArray(name, { maxLength: 5 }), fc.uniqueArray(name, { maxLength: 5 }), (doors, reasons) => {
      const text = renderPrometheus(
        snapshot({ doors: new Map(doors.map((d) => [d, door({ opens: 1 })])), rejects: new Map(reasons.map((r) => [r, 1])) }),
      );
      const lines = text.slice(0, -1).split('\n');
      const typed = new Set<string>();
      const doorLabels: string[] = [];
      const reasonLabels: string[] = [];
      for (const line of lines) {
        if (line.startsWith('# HELP ')) continue;
        if (line.startsWith('# TYPE ')) {
          const family = line.split(' ')[2] as string;
          assert.ok(!typed.has(family), `TYPE twice for ${family}`);
          typed.add(family);
          continue;
        }
        const match = SAMPLE.exec(line);
        assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
        assert.ok(typed.has(match[1] as string), 'sample before its TYPE');
        for (const label of (match[2] ?? '').matchAll(LABEL_CAPTURE)) {
          if (match[1] === 'nfknock_opens_total' && label[1] === 'door') doorLabels.push(unescape(label[2] as string));
          if (match[1] === 'nfknock_rejects_total' && label[1] === 'reason') reasonLabels.push(unescape(label[2] as string));
        }
      }
      const wellFormed = (s: string) => s.replace(/\p{Cs}/gu, '\uFFFD');
      assert.deepEqual(doorLabels.sort(), doors.map(wellFormed).sort());
      assert.deepEqual(reasonLabels.sort(), reasons.map(wellFormed).sort());
      assert.ok(Buffer.from(text, 'utf8').toString('utf8') === text, 'the exposition is valid UTF-8');
    }),
    { numRuns: 300 },
  );
});

test('a snapshot has every configured door from the start, open doors counted per door, never per address', () => {
  const activity = new DoorActivity(1000);
  activity.observe(2000, { event: 'open', source: '10.0.0.2', door: 'web' });
  activity.observe(2000, { event: 'replay', source: '10.0.0.3', door: 'web', sequence: 'line:1' });
  activity.observe(2500, { event: 'command-result', kind: 'stop', source: '10.0.0.2', door: 'web', exitCode: 1, signal: null });
  activity.observe(2600, { event: 'command-result', kind: 'start', source: '10.0.0.2', door: 'web', exitCode: null, signal: 'SIGKILL' });
  activity.observe(3000, { event: 'reload-refused', config: '/etc/knockd.conf' });
  const pending = (door: string, source: string) => ({ id: `${door}-${source}`, door, source, family: 4 as const, stopCommand: 'true', openedAt: 0, closesAt: 1 });
  const daemon = {
    counters: { eventsBySource: new Map([['kmsg', 4]]), rejects: new Map(), overruns: 0, evictions: 0, lastEventAt: undefined },
    attemptCount: 0,
    openDoors: [pending('web', '10.0.0.2'), pending('web', '10.0.0.9'), pending('gone', '10.0.0.2')],
  };
  const taken = takeSnapshot(daemon, activity, { version: 'v', pid: 1, startedAt: 1000, now: 4000, source: 'nflog', configuredDoors: ['ssh', 'web'] });
  assert.deepEqual([...taken.doors.keys()], ['gone', 'ssh', 'web']);
  assert.deepEqual(taken.doors.get('web'), { opens: 1, closes: 0, open: 2, replaysRefused: 1, commandFailures: { start: 1, stop: 1 }, stopRetrying: true });
  assert.deepEqual(taken.doors.get('ssh'), door());
  assert.deepEqual([...taken.events], [['kmsg', 4], ['nflog', 0]]);
  assert.deepEqual(taken.reload, { success: false, at: 1000 });
  assert.doesNotMatch(renderPrometheus(taken), /10\.0\.0\./);
  // The failing stop succeeds later: the door is no longer "may still be open".
  activity.observe(5000, { event: 'command-result', kind: 'stop', source: '10.0.0.2', door: 'web', exitCode: 0, signal: null });
  activity.observe(6000, { event: 'reload' });
  const later = takeSnapshot(daemon, activity, { version: 'v', pid: 1, startedAt: 1000, now: 7000, source: 'nflog', configuredDoors: ['ssh', 'web'] });
  assert.equal(later.doors.get('web')?.stopRetrying, false);
  assert.deepEqual(later.reload, { success: true, at: 6000 });
});
