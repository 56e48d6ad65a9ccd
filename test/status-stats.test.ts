import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStats, type Stats } from '../src/metrics/stats-file.js';
import { formatStats } from '../src/status/stats.js';
import { runStatusCommand, type StatusCommandIo } from '../src/status/command.js';
import type { MetricsSnapshot } from '../src/metrics/snapshot.js';
import { isNfknockError } from '../src/core/errors.js';

const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);

function snapshot(): MetricsSnapshot {
  const door = (open: number, opens: number, closes: number, stopRetrying = false) => ({ opens, closes, open, replaysRefused: 1, commandFailures: { start: 0, stop: stopRetrying ? 2 : 0 }, stopRetrying });
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: T0,
    takenAt: T0 + 3_600_000,
    source: 'nflog',
    events: new Map([['nflog', 12]]),
    rejects: new Map([['wrong-prefix', 2], ['stale', 0]]),
    overruns: 0,
    evictions: 0,
    attemptsInProgress: 1,
    doors: new Map([['openSSH', door(1, 3, 2)], ['web\nforged', door(0, 1, 1, true)]]),
    lastEventAt: T0 + 3_595_000,
    reload: { success: true, at: T0 },
    stopped: false,
  };
}

function io(files: Map<string, string>, now: number) {
  const out: string[] = [];
  const value: StatusCommandIo = {
    readFile: async (path) => {
      const text = files.get(path);
      if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return text;
    },
    now: () => now,
    out: (text) => out.push(text),
  };
  return { io: value, out };
}

test('status --stats lays the figures out like fail2ban-client status', async () => {
  const { io: fake, out } = io(new Map([['/run/nfknock/stats.json', renderStats(snapshot())]]), T0 + 3_602_000);
  await runStatusCommand({ stats: true }, fake);
  assert.equal(
    out.join(''),
    [
      'Status of nfknockd 0.1.0, pid 4242, up since 2026-12-02T08:00:00.000Z (1h00m ago)',
      '|- Knocks',
      '|  |- Events read:\t12 (nflog 12)',
      '|  |- Attempts in progress:\t1',
      '|  |- Rejected:\t2 (wrong-prefix 2)',
      '|  |- Overruns:\t0',
      '|  |- Evictions:\t0',
      '|  `- Last event:\t2026-12-02T08:59:55.000Z (7s ago)',
      '|- Doors',
      '|  |- Currently open:\t1',
      '|  |- Total opened:\t4',
      '|  |- Total closed:\t3',
      '|  |- Replays refused:\t2',
      '|  |- Command failures:\tstart 0, stop 2',
      '|  |- Stop command failing:\tweb\\x0aforged (THE DOOR MAY STILL BE OPEN)',
      '|  |- Door openSSH:\topen 1, opened 3, closed 2, replays refused 1, failed start 0 stop 0',
      '|  `- Door web\\x0aforged:\topen 0, opened 1, closed 1, replays refused 1, failed start 0 stop 2',
      '`- Configuration',
      '   `- Last reload:\taccepted loaded 2026-12-02T08:00:00.000Z (1h00m ago)',
      '',
    ].join('\n'),
  );
});

test('status --stats --json prints the file\'s figures; a stale file says the daemon is probably not running', async () => {
  const files = new Map([['/tmp/s.json', renderStats(snapshot())]]);
  const json = io(files, T0);
  await runStatusCommand({ stats: true, json: true, statsFile: '/tmp/s.json' }, json.io);
  const parsed = JSON.parse(json.out.join('')) as Stats;
  assert.equal(parsed.doors[0]?.opens, 3);
  assert.equal(parsed.events[0]?.count, 12);
  const stale = formatStats(JSON.parse(renderStats(snapshot())) as Stats, T0 + 3_600_000 + 120_000, '/tmp/s.json');
  assert.match(stale, /\/tmp\/s\.json was last written 2m00s ago: nfknockd is probably not running/);
  const stopped = formatStats({ ...(JSON.parse(renderStats(snapshot())) as Stats), stopped: true }, T0 + 3_660_000, '/tmp/s.json');
  assert.match(stopped, /\nnfknockd stopped at 2026-12-02T09:00:00\.000Z \(1m00s ago\): these are its last figures\.\n$/);
});

test('status --stats without a stats file says where it looked and why it may be missing', async () => {
  const { io: fake } = io(new Map(), T0);
  await assert.rejects(runStatusCommand({ stats: true }, fake), (error: unknown) => isNfknockError(error) && /\/run\/nfknock\/stats\.json \(ENOENT\): nfknockd is not running/.test(error.message));
});
