/**
 * Issue 15's "done when": a real nfknockd in the lab, watched only through what a locked-down host
 * already runs. Debian's node_exporter (inside the server namespace, on its loopback) scrapes the
 * MetricsFile directory while a client breaks a sequence, opens two doors, replays a used time-based
 * sequence and the doors close; promtool accepts the file; `nfknock status --stats` shows the same
 * numbers; fail2ban-regex with the shipped filter matches exactly the expected LogFile lines, and
 * fail2ban-client accepts the shipped jails; a private rsyslogd receives the lines with the
 * configured tag and facility; every JSON record the daemon wrote is one docs/events.md lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate, sleep, stopProcessGroup, waitFor, type Lab } from '../helpers/lab.js';
import { knockWithNfknock, loadGeneratedFirewall, nfknockPath, seedDoorConf, startDaemon, timedServiceDoor, SERVICE_PORT, waitForProbe, type RunningDaemon } from '../helpers/daemon-lab.js';
import { startPrivateRsyslog } from '../helpers/rsyslog-private.js';
import { loadEventSchema, undocumented } from '../helpers/event-schema.js';
import { repoFile } from '../helpers/repo-file.js';
import { packageVersion } from '../../src/cli/version.js';
import type { Stats } from '../../src/metrics/stats-file.js';
import { timeStepAt } from '../../src/timeseq/derive.js';

const gate = e2eGate({ tools: ['prometheus-node-exporter', 'promtool', 'fail2ban-regex', 'fail2ban-client', 'rsyslogd', 'logger'] });

const OPEN_SSH = ['7000:udp', '8000:tcp', '9000:udp'];
/** A time-based door: a used step knocked again is refused as a replay (a used one-time line is simply gone). */
const TIMED = 'timed';
const PERIOD = 600;
const TIMED_PORTS = '41000-41999';
const TAG = 'knockd';
const FACILITY = 'local3';
const EXPORTER = 'http://127.0.0.1:9100/metrics';

function config(secretFile: string, metricsFile: string): string {
  return [
    '[options]',
    '    UseSyslog',
    `    SyslogTag      = ${TAG}`,
    `    SyslogFacility = ${FACILITY}`,
    `    MetricsFile    = ${metricsFile}`,
    '',
    seedDoorConf({ cmdTimeout: 4 }),
    timedServiceDoor(TIMED, secretFile, { ports: TIMED_PORTS, period: PERIOD, cmdTimeout: 1 }),
  ].join('\n');
}

/** node_exporter's /metrics, fetched from inside the server namespace (it listens on that loopback only). */
async function scrape(lab: Lab): Promise<string> {
  const script = `fetch(${JSON.stringify(EXPORTER)}).then(async (r) => { if (!r.ok) process.exit(3); process.stdout.write(await r.text()); }, () => process.exit(2))`;
  const result = await lab.exec('server', [process.execPath, '-e', script], { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`scrape failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** The nfknock_ samples of an exposition, `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(nfknock_\S+) (\S+)$/.exec(line);
    if (match) result.set(match[1] as string, Number(match[2]));
  }
  return result;
}

async function scrapeUntil(lab: Lab, expected: Record<string, number>, what: string): Promise<Map<string, number>> {
  let last = new Map<string, number>();
  try {
    return await waitFor(
      async () => {
        last = samples(await scrape(lab).catch(() => ''));
        return Object.entries(expected).every(([series, value]) => last.get(series) === value) ? last : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, description: what },
    );
  } catch (error) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, node_exporter shows ${JSON.stringify(Object.fromEntries(last))}`, { cause: error });
  }
}

function statusStats(daemon: RunningDaemon, json: boolean): string {
  const result = spawnSync(process.execPath, [nfknockPath, 'status', '--stats', '--stats-file', daemon.statsFile, ...(json ? ['--json'] : [])], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

/** The Prometheus series the stats file's figures correspond to. */
function seriesOf(stats: Stats): Map<string, number> {
  const series = new Map<string, number>();
  for (const { source, count } of stats.events) series.set(`nfknock_events_total{source="${source}"}`, count);
  for (const { reason, count } of stats.rejects) series.set(`nfknock_rejects_total{reason="${reason}"}`, count);
  series.set('nfknock_overruns_total', stats.overruns);
  series.set('nfknock_evictions_total', stats.evictions);
  series.set('nfknock_attempts_in_progress', stats.attemptsInProgress);
  for (const door of stats.doors) {
    const label = `door="${door.door}"`;
    series.set(`nfknock_opens_total{${label}}`, door.opens);
    series.set(`nfknock_closes_total{${label}}`, door.closes);
    series.set(`nfknock_open_doors{${label}}`, door.open);
    series.set(`nfknock_replays_refused_total{${label}}`, door.replaysRefused);
    series.set(`nfknock_command_failures_total{${label},kind="start"}`, door.commandFailures.start);
    series.set(`nfknock_command_failures_total{${label},kind="stop"}`, door.commandFailures.stop);
    series.set(`nfknock_stop_retrying{${label}}`, door.stopRetrying ? 1 : 0);
  }
  series.set('nfknock_last_event_timestamp_seconds', (stats.lastEventAt ?? 0) / 1000);
  series.set('nfknock_config_reload_success', stats.reload.success ? 1 : 0);
  series.set('nfknock_config_reload_timestamp_seconds', stats.reload.at / 1000);
  series.set('nfknock_start_time_seconds', stats.startedAt / 1000);
  return series;
}

function fail2banRegex(logFile: string, filter: string): string[] {
  const result = spawnSync('fail2ban-regex', ['-r', '-o', 'msg', logFile, filter], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean);
}

test('node_exporter, promtool, status --stats, fail2ban and rsyslog all see what the daemon did', { skip: gate.skip, timeout: 120_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-obs' });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-obs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const textfileDir = join(dir, 'node-exporter');
  await mkdir(textfileDir);
  const metricsFile = join(textfileDir, 'nfknock.prom');
  const secretFile = join(dir, `${TIMED}.secret`);
  await lab.execOk('server', [process.execPath, nfknockPath, 'secret', '--door', TIMED, '--write', secretFile]);
  const conf = config(secretFile, metricsFile);
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);

  const rsyslog = await startPrivateRsyslog({
    dir,
    lab,
    rules: [
      'template(name="probe" type="string" string="%syslogtag%|%syslogfacility-text%.%syslogseverity-text%|%msg%\\n")',
      `*.* action(type="omfile" file="${join(dir, 'syslog.out')}" template="probe")`,
    ].join('\n'),
  });
  t.after(() => rsyslog.stop());

  const exporter = lab.spawn('server', [
    'prometheus-node-exporter',
    '--web.listen-address=127.0.0.1:9100',
    '--collector.disable-defaults',
    '--collector.textfile',
    `--collector.textfile.directory=${textfileDir}`,
    '--web.disable-exporter-metrics',
  ]);
  t.after(() => stopProcessGroup(exporter, 2000));

  const started = Date.now();
  const daemon = await startDaemon(lab, conf, ['--syslog-socket', rsyslog.socket], { dir });
  t.after(() => daemon.stop());
  const door = (name: string) => `{door="${name}"}`;
  await scrapeUntil(lab, { [`nfknock_build_info{version="${packageVersion()}"}`]: 1, [`nfknock_opens_total${door('openSSH')}`]: 0, 'nfknock_config_reload_success': 1 }, 'the first metrics');

  // A wrong second knock breaks the sequence; then the right one opens the door.
  const client = lab.clientAddress(4);
  await knockWithNfknock(lab, 4, ['7000:udp', '9000:udp']);
  await waitFor(async () => (await daemon.log()).includes(`${client}: openSSH: sequence broken`), { timeoutMs: 10_000 });
  await knockWithNfknock(lab, 4, OPEN_SSH);
  await waitForProbe(lab, 4, 'open', 5000);
  await scrapeUntil(lab, { [`nfknock_opens_total${door('openSSH')}`]: 1, [`nfknock_open_doors${door('openSSH')}`]: 1 }, 'openSSH open');

  // The time-based door opens once per step; the same step knocked again is a replay.
  const knockTimed = () =>
    lab.execOk('client', [process.execPath, nfknockPath, 'knock', '--secret', secretFile, '--door', TIMED, '--ports', TIMED_PORTS, '--length', '3', '--period', String(PERIOD), '--protocols', 'udp', lab.serverAddress(4)]);
  const leftInStep = PERIOD * 1000 - (Date.now() % (PERIOD * 1000));
  if (leftInStep < 10_000) await sleep(leftInStep + 200);
  const step = timeStepAt(Date.now(), PERIOD);
  await knockTimed();
  await waitFor(async () => (await daemon.log()).includes(`${client}: ${TIMED}: OPEN SESAME`), { timeoutMs: 10_000 });
  await knockTimed();
  await waitFor(async () => (await daemon.log()).includes('already used, replay refused'), { timeoutMs: 10_000 });

  const final = await scrapeUntil(
    lab,
    {
      [`nfknock_opens_total${door('openSSH')}`]: 1,
      [`nfknock_opens_total${door(TIMED)}`]: 1,
      [`nfknock_closes_total${door('openSSH')}`]: 1,
      [`nfknock_closes_total${door(TIMED)}`]: 1,
      [`nfknock_open_doors${door('openSSH')}`]: 0,
      [`nfknock_open_doors${door(TIMED)}`]: 0,
      [`nfknock_replays_refused_total${door('openSSH')}`]: 0,
      [`nfknock_replays_refused_total${door(TIMED)}`]: 1,
      [`nfknock_command_failures_total{door="openSSH",kind="start"}`]: 0,
      [`nfknock_command_failures_total{door="openSSH",kind="stop"}`]: 0,
      [`nfknock_command_failures_total{door="timed",kind="stop"}`]: 0,
      [`nfknock_stop_retrying${door('openSSH')}`]: 0,
      'nfknock_overruns_total': 0,
      'nfknock_evictions_total': 0,
      'nfknock_config_reload_success': 1,
    },
    'both doors closed',
  );
  await waitForProbe(lab, 4, 'filtered', 5000);
  // Two knocks broke, three opened, three opened the timed door, three replayed it (a TCP knock may be retried).
  assert.ok((final.get('nfknock_events_total{source="nflog"}') ?? 0) >= 11, JSON.stringify(Object.fromEntries(final)));
  const lastEvent = final.get('nfknock_last_event_timestamp_seconds') ?? 0;
  assert.ok(lastEvent * 1000 >= started && lastEvent * 1000 <= Date.now(), `last event at ${lastEvent}`);
  assert.ok(![...final.keys()].some((series) => series.includes(client)), 'no series is labelled by an address');
  const exposition = await scrape(lab);
  assert.match(exposition, /^node_textfile_scrape_error 0$/m, 'node_exporter parsed the file');

  // promtool accepts the file as written.
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: await readFile(metricsFile), encoding: 'utf8' });
  assert.equal(promtool.status, 0, `${promtool.stdout}${promtool.stderr}`);

  // status --stats shows the numbers node_exporter shows (retried: a 15 s rewrite may fall between the reads).
  await waitFor(
    async () => {
      const stats = JSON.parse(statusStats(daemon, true)) as Stats;
      const scraped = samples(await scrape(lab));
      return [...seriesOf(stats)].every(([series, value]) => scraped.get(series) === value);
    },
    { timeoutMs: 20_000, description: 'status --stats --json agreeing with node_exporter' },
  );
  const text = statusStats(daemon, false);
  assert.match(text, /^\|- Doors\n\|  \|- Currently open:\t0\n\|  \|- Total opened:\t2\n\|  \|- Total closed:\t2\n\|  \|- Replays refused:\t1$/m);
  assert.match(text, /^\|  \|- Door openSSH:\topen 0, opened 1, closed 1, replays refused 0, failed start 0 stop 0$/m);

  // At exit the files are written a last time; no temp file is left in node_exporter's directory.
  await daemon.stop();
  assert.deepEqual(await readdir(textfileDir), ['nfknock.prom']);
  assert.match(await readFile(metricsFile, 'utf8'), /^nfknock_closes_total\{door="openSSH"\} 1$/m);
  assert.match(statusStats(daemon, false), /\nnfknockd stopped at .*: these are its last figures\.\n$/);

  // fail2ban: the shipped filter matches exactly the broken and the replay line of this LogFile.
  const log = await daemon.log();
  const logLines = log.split('\n').filter(Boolean);
  const brokenLine = logLines.filter((line) => line.endsWith(`] ${client}: openSSH: sequence broken (stage 1, got 9000:udp)`));
  const replayLine = logLines.filter((line) => line.endsWith(`] ${client}: ${TIMED}: sequence step:${step} already used, replay refused`));
  assert.equal(brokenLine.length, 1, log);
  assert.equal(replayLine.length, 1, log);
  const filter = repoFile(join('rules', 'fail2ban-filter-nfknock.conf'));
  assert.deepEqual(fail2banRegex(daemon.logFile, `${filter}[mode=broken]`), brokenLine);
  assert.deepEqual(fail2banRegex(daemon.logFile, `${filter}[mode=replay]`), replayLine);
  assert.deepEqual(fail2banRegex(daemon.logFile, filter), logLines.filter((line) => brokenLine.includes(line) || replayLine.includes(line)));
  // And fail2ban-client accepts the shipped jails with the shipped filter (a config test, nothing started).
  const etc = join(dir, 'fail2ban');
  await cp('/etc/fail2ban', etc, { recursive: true });
  await rm(join(etc, 'jail.d'), { recursive: true, force: true });
  await mkdir(join(etc, 'jail.d'));
  await cp(filter, join(etc, 'filter.d', 'nfknock.conf'));
  const jail = await readFile(repoFile(join('rules', 'fail2ban-jail-nfknock.local')), 'utf8');
  assert.ok(jail.includes('logpath  = /var/log/nfknock/knock.log'));
  await writeFile(join(etc, 'jail.d', 'nfknock.local'), jail.replaceAll('/var/log/nfknock/knock.log', daemon.logFile));
  const check = spawnSync('fail2ban-client', ['-c', etc, '--test'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

  // Syslog: every line reached rsyslogd with the configured tag and facility.
  const syslog = (await readFile(join(dir, 'syslog.out'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const ours = syslog.filter((line) => line.includes('OPEN SESAME') || line.includes('sequence broken') || line.includes('closing door'));
  assert.ok(ours.length >= 5, syslog.join('\n'));
  for (const line of ours) assert.match(line, new RegExp(`^${TAG}(\\[\\d+\\])?:\\|${FACILITY}\\.notice\\| ?`), line);

  // Every structured record the daemon wrote is one docs/events.md lists.
  const schema = loadEventSchema();
  const records = daemon
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const kinds = new Set(records.map((record) => record['event']).filter(Boolean));
  for (const kind of ['start', 'stage', 'broken', 'open', 'command', 'command-result', 'cmd-timeout', 'close', 'replay', 'stop']) assert.ok(kinds.has(kind), `no ${kind} record`);
  assert.deepEqual([...new Set(records.flatMap((record) => undocumented(record, schema)))], []);
});
