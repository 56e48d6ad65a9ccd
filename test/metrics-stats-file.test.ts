import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseStats, renderStats, statsFromSnapshot, STATS_FORMAT } from '../src/metrics/stats-file.js';
import { MetricsWriter } from '../src/metrics/writer.js';
import type { MetricsSnapshot } from '../src/metrics/snapshot.js';
import { createLogger } from '../src/logging/logger.js';
import { isNfknockError } from '../src/core/errors.js';
import { waitFor } from './helpers/lab.js';

function snapshot(doors: string[] = ['ssh'], takenAt = 2_000_000): MetricsSnapshot {
  return {
    version: '0.1.0',
    pid: 7,
    startedAt: 1_000_000,
    takenAt,
    source: 'nflog',
    events: new Map([['nflog', 3]]),
    rejects: new Map([['__proto__', 1], ['constructor', 2]]),
    overruns: 0,
    evictions: 0,
    attemptsInProgress: 1,
    doors: new Map(doors.map((door) => [door, { opens: 1, closes: 0, open: 1, replaysRefused: 0, commandFailures: { start: 0, stop: 0 }, stopRetrying: false }])),
    lastEventAt: 1_999_999.25,
    reload: { success: true, at: 1_000_000 },
    stopped: false,
  };
}

test('stats.json reads back as written, names as values (even __proto__), stamps in whole milliseconds', () => {
  const stats = parseStats(renderStats(snapshot()), 'stats.json');
  assert.deepEqual(stats, statsFromSnapshot(snapshot()));
  assert.equal(stats.lastEventAt, 1_999_999);
  assert.deepEqual(stats.rejects, [{ reason: '__proto__', count: 1 }, { reason: 'constructor', count: 2 }]);
});

test('property: any door names round-trip through stats.json', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 15 }), { maxLength: 6 }), (doors) => {
      assert.deepEqual(parseStats(renderStats(snapshot(doors)), 'f').doors.map((d) => d.door), doors);
    }),
  );
});

test('a file that is not a stats file is refused with what is wrong', () => {
  const good = JSON.parse(renderStats(snapshot())) as Record<string, unknown>;
  const bad = (value: unknown) => () => parseStats(JSON.stringify(value), '/run/x.json');
  const refused = (what: RegExp) => (error: unknown) => isNfknockError(error) && error.code === 'NFK_STATE_CORRUPT' && what.test(error.message);
  assert.throws(() => parseStats('{', 'f'), refused(/not JSON/));
  assert.throws(bad([]), refused(/not a JSON object/));
  assert.throws(bad({ ...good, format: STATS_FORMAT + 1 }), refused(/format 2/));
  assert.throws(bad({ ...good, overruns: -1 }), refused(/"overruns"/));
  assert.throws(bad({ ...good, doors: [{ door: 'x' }] }), refused(/"doors"/));
  assert.throws(bad({ ...good, events: [{ source: 1, count: 1 }] }), refused(/"events"/));
  assert.throws(bad({ ...good, lastEventAt: 'now' }), refused(/"lastEventAt"/));
});

function logger() {
  const records: Array<Record<string, unknown>> = [];
  return { records, logger: createLogger({ level: 'debug', destination: { write: (s: string) => records.push(JSON.parse(s)) } }) };
}

test('the writer replaces both files atomically (mode 0644, no temp file left), soon() coalesces, stop() writes the last figures', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const metricsFile = join(dir, 'textfile', 'nfknock.prom');
  await mkdir(join(dir, 'textfile'));
  const statsFile = join(dir, 'run', 'stats.json');
  let taken = 0;
  let takenAt = 1;
  const { logger: log, records } = logger();
  const writer = new MetricsWriter({ metricsFile, statsFile, logger: log, intervalMs: 60_000, snapshot: () => (taken++, snapshot(['ssh'], takenAt)) });
  await writer.start();
  assert.equal(taken, 1);
  assert.match(await readFile(metricsFile, 'utf8'), /^nfknock_open_doors\{door="ssh"\} 1$/m);
  assert.equal(parseStats(await readFile(statsFile, 'utf8'), statsFile).writtenAt, 1);
  assert.equal((await stat(metricsFile)).mode & 0o777, 0o644);
  assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o755);
  takenAt = 2;
  for (let i = 0; i < 50; i++) writer.soon();
  await waitFor(async () => parseStats(await readFile(statsFile, 'utf8'), statsFile).writtenAt === 2, { timeoutMs: 5000 });
  assert.ok(taken <= 3, `50 requests at once made ${taken - 1} writes`);
  takenAt = 3;
  assert.equal(parseStats(await readFile(statsFile, 'utf8'), statsFile).stopped, false);
  let stoppedFlag: boolean | undefined;
  const last = new MetricsWriter({ statsFile, logger: log, snapshot: (stopped) => ((stoppedFlag = stopped), snapshot(['ssh'], takenAt)) });
  await writer.stop();
  assert.equal(parseStats(await readFile(statsFile, 'utf8'), statsFile).writtenAt, 3);
  await last.stop();
  assert.equal(stoppedFlag, true, 'the write at exit is marked as the last');
  assert.deepEqual((await readdir(join(dir, 'textfile'))).sort(), ['nfknock.prom']);
  writer.soon();
  assert.deepEqual(records, []);
});

test('a metrics file that cannot be written warns once, keeps the daemon going, and says when it works again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, 'no-such-dir', 'nfknock.prom');
  const { logger: log, records } = logger();
  const writer = new MetricsWriter({ metricsFile: missing, statsFile: join(dir, 'stats.json'), logger: log, snapshot: () => snapshot() });
  t.after(() => writer.stop());
  await writer.start();
  writer.soon(0);
  await waitFor(() => records.length > 0 && (writer.soon(0), true), { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 50));
  const warnings = records.filter((r) => r['msg'] === 'cannot write a metrics file; trying again with the next update');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.['path'], missing);
  await mkdir(join(dir, 'no-such-dir'));
  writer.soon(0);
  await waitFor(() => records.some((r) => r['msg'] === 'metrics file writable again'), { timeoutMs: 5000 });
  assert.match(await readFile(missing, 'utf8'), /nfknock_build_info/);
});
