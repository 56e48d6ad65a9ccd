/**
 * SyslogWriter's queue and restart logic, with a stand-in for logger(1). The real logger and rsyslogd
 * are exercised in test/e2e/syslog-rsyslog.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyslogWriter } from '../src/logging/syslog-writer.js';
import { createLogger } from '../src/logging/logger.js';

function memoryLogger() {
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => records.push(JSON.parse(s)) } });
  return { logger, records };
}

async function fakeLogger(t: { after: (fn: () => Promise<void>) => void }, body: string) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-syslog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'fake-logger');
  await writeFile(script, `#!/bin/sh\necho "$@" >> ${dir}/args\n${body.replaceAll('$OUT', `${dir}/out`)}\n`);
  await chmod(script, 0o755);
  return { script, out: join(dir, 'out'), args: join(dir, 'args') };
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('lines reach logger with the tag, our pid, user.notice like knockd, and the socket option', async (t) => {
  const fake = await fakeLogger(t, 'exec cat >> $OUT');
  const writer = new SyslogWriter({ logger: memoryLogger().logger, loggerCommand: fake.script, socket: '/run/x.sock', id: 4242 });
  t.after(() => writer.close(200));
  writer.start();
  writer.write('10.0.0.2: ssh: Stage 1');
  writer.write('evil\nsecond line');
  await writer.close();
  assert.equal(await readFile(fake.out, 'utf8'), '10.0.0.2: ssh: Stage 1\nevil\\x0asecond line\n');
  assert.equal((await readFile(fake.args, 'utf8')).trim(), '-t nfknockd[4242] -p user.notice --socket-errors=on -u /run/x.sock');
  assert.equal(writer.stats.written, 2);
});

test('a logger that dies is restarted and later lines still arrive', async (t) => {
  // Each stand-in handles one line and exits, as a logger that crashes would.
  const fake = await fakeLogger(t, 'head -n 1 >> $OUT');
  const { logger, records } = memoryLogger();
  const writer = new SyslogWriter({ logger, loggerCommand: fake.script, restartDelayMs: 10 });
  t.after(() => writer.close(200));
  writer.start();
  for (const [index, line] of ['one', 'two', 'three'].entries()) {
    // A line handed to a logger that is already exiting is lost (documented); wait for the new one.
    await eventually(async () => writer.stats.restarts >= index, `restart ${index}`);
    writer.write(line);
    await eventually(async () => (await readFile(fake.out, 'utf8')).includes(line), `line ${line}`);
  }
  await writer.close(200);
  assert.equal(await readFile(fake.out, 'utf8'), 'one\ntwo\nthree\n');
  assert.ok(writer.stats.restarts >= 2);
  assert.ok(records.some((r) => String(r['msg']).includes('restarting')));
});

test('when syslog does not keep up, lines are dropped and counted instead of piling up', async (t) => {
  const fake = await fakeLogger(t, 'exec sleep 30');
  const { logger, records } = memoryLogger();
  const writer = new SyslogWriter({ logger, loggerCommand: fake.script, queueLimit: 100 });
  t.after(() => writer.close(200));
  writer.start();
  const line = 'x'.repeat(200);
  for (let i = 0; i < 5000; i++) writer.write(line);
  const { dropped, written } = writer.stats;
  assert.ok(dropped > 0, 'some lines dropped');
  assert.ok(written < 5000 - 100, 'only what the pipe took was written');
  assert.equal(dropped + written + 100, 5000, 'every line is written, queued or counted');
  assert.equal(records.filter((r) => String(r['msg']).startsWith('syslog lines dropped')).length, 1, 'one warning, not one per line');
  await writer.close(200);
  const summary = records.filter((r) => r['msg'] === 'syslog lines dropped').at(-1);
  assert.equal(summary?.['dropped'], dropped);
});

test('a missing logger binary is a warning and a retry, never a crash', async (t) => {
  const { logger, records } = memoryLogger();
  const writer = new SyslogWriter({ logger, loggerCommand: '/nonexistent/logger', restartDelayMs: 10 });
  t.after(() => writer.close(200));
  writer.start();
  writer.write('kept in the queue');
  await eventually(async () => writer.stats.restarts >= 2, 'two restarts');
  await writer.close();
  assert.ok(records.some((r) => String(r['msg']).includes('cannot run logger(1)')));
});

test('a logger that keeps running but cannot send (EPERM under the unit) is reported while it runs', async (t) => {
  const { logger, records } = memoryLogger();
  // Like util-linux logger with --socket-errors=on when sendmsg fails: one complaint per line, no exit.
  const fake = await fakeLogger(t, 'while read -r line; do echo "logger: send message failed: Operation not permitted" >&2; done');
  const writer = new SyslogWriter({ logger, loggerCommand: fake.script });
  t.after(() => writer.close(200));
  writer.start();
  writer.write('first');
  writer.write('second');
  await eventually(async () => records.some((r) => String(r['msg']).includes('cannot deliver lines')), 'the complaint to be reported');
  const reports = records.filter((r) => String(r['msg']).includes('cannot deliver lines'));
  assert.equal(reports.length, 1, 'the second complaint within a minute is counted, not reported again');
  assert.match(String(reports[0]?.['stderr']), /Operation not permitted/);
  assert.equal(writer.stats.restarts, 0);
});
