/**
 * SyslogWriter against a real rsyslogd: a private instance with its own unix socket (not /dev/log) and
 * its own output file, stopped after the test even when it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eGate } from '../helpers/lab.js';
import { SyslogWriter } from '../../src/logging/syslog-writer.js';
import { createLogger } from '../../src/logging/logger.js';
import { openSesameMessage, stageMessage } from '../../src/logging/knockd-format.js';

const gate = e2eGate({ tools: ['rsyslogd', 'logger'] });

async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface PrivateRsyslog {
  socket: string;
  output: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startRsyslog(dir: string): Promise<PrivateRsyslog> {
  const socket = join(dir, 'log.sock');
  const output = join(dir, 'messages');
  const config = join(dir, 'rsyslog.conf');
  await writeFile(
    config,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${socket}" CreatePath="on")`,
      'template(name="probe" type="string" string="%syslogtag%|%syslogfacility-text%.%syslogseverity-text%|%msg%\\n")',
      `*.* action(type="omfile" file="${output}" template="probe")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const launch = async () => {
    await rm(socket, { force: true });
    child = spawn('rsyslogd', ['-n', '-f', config, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await eventually(() => access(socket).then(() => true), 'rsyslogd socket');
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return { socket, output, stop, restart: async () => (await stop(), await launch()) };
}

test('lines written through SyslogWriter reach rsyslogd with tag nfknockd[pid] at user.notice', { skip: gate.skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-rsyslog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rsyslog = await startRsyslog(dir);
  t.after(() => rsyslog.stop());

  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => warnings.push(s) } });
  const writer = new SyslogWriter({ logger, socket: rsyslog.socket, restartDelayMs: 50 });
  t.after(() => writer.close());
  writer.start();
  writer.write(stageMessage('10.0.0.2', 'openSSH', 1));
  writer.write(openSesameMessage('10.0.0.2', 'openSSH'));
  writer.write('line with\na newline');

  const expected = [
    `nfknockd[${process.pid}]:|user.notice|10.0.0.2: openSSH: Stage 1`,
    `nfknockd[${process.pid}]:|user.notice|10.0.0.2: openSSH: OPEN SESAME`,
    `nfknockd[${process.pid}]:|user.notice|line with\\x0aa newline`,
  ];
  const lines = await eventually(async () => {
    const got = (await readFile(rsyslog.output, 'utf8')).split('\n').filter(Boolean);
    return got.length >= 3 ? got : undefined;
  }, 'three syslog lines');
  // rsyslog keeps the space after "tag:" in %msg%; compare without it.
  assert.deepEqual(lines.map((l) => l.replace('|user.notice| ', '|user.notice|')), expected);

  // rsyslogd restarting (package upgrade, logrotate) must not lose later lines.
  await rsyslog.restart();
  writer.write('after restart');
  await eventually(async () => ((await readFile(rsyslog.output, 'utf8')).includes('after restart') ? true : undefined), 'line after restart');

  await writer.close();
  assert.deepEqual(warnings, [], 'no warnings while syslog was healthy');
});

test('with no syslog socket, SyslogWriter warns and keeps retrying instead of failing silently', { skip: gate.skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-rsyslog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const warnings: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => warnings.push(JSON.parse(s)) } });
  const writer = new SyslogWriter({ logger, socket: join(dir, 'missing.sock'), restartDelayMs: 20 });
  t.after(() => writer.close());
  writer.start();
  writer.write('nobody listens');
  await eventually(async () => (writer.stats.restarts >= 1 ? true : undefined), 'a restart');
  assert.match(String(warnings[0]?.['stderr']), /missing\.sock/);
});
