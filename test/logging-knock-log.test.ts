import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, stat, unlink, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnockLog } from '../src/logging/knock-log.js';
import { fixedUtcOffset, openSesameMessage } from '../src/logging/knockd-format.js';
import { createLogger, verbosityFromFlags } from '../src/logging/logger.js';
import { isNfknockError } from '../src/core/errors.js';

function memoryLogger() {
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => records.push(JSON.parse(s)) } });
  return { logger, records };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('lines are appended in order to a file created with mode 0640', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'knockd.log');
  const { logger } = memoryLogger();
  const log = new KnockLog({ logger, offsetAt: fixedUtcOffset(0) });
  await log.open(path);
  log.write('first');
  log.writeMessage(Date.UTC(2026, 0, 2, 3, 4), openSesameMessage('10.0.0.2', 'ssh'));
  await log.close();
  await log.open(path);
  log.write('third\n');
  await log.close();
  assert.equal(await readFile(path, 'utf8'), 'first\n[2026-01-02 03:04] 10.0.0.2: ssh: OPEN SESAME\nthird\n');
  assert.equal((await stat(path)).mode & 0o777, 0o640);
});

test('a log file that vanishes is re-created with a clear warning', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'knockd.log');
  const { logger, records } = memoryLogger();
  const log = new KnockLog({ logger });
  await log.open(path);
  log.write('before');
  await unlink(path);
  log.write('after');
  await log.close();
  assert.equal(await readFile(path, 'utf8'), 'after\n');
  const warning = records.find((r) => r['level'] === 'warn');
  assert.ok(warning, 'a warning was logged');
  assert.match(String(warning['msg']), /deleted; re-creating/);
  assert.equal(warning['path'], path);
});

test('reopen() follows logrotate: the old file keeps old lines, a new file gets new ones', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'knockd.log');
  const { logger } = memoryLogger();
  const log = new KnockLog({ logger });
  await log.open(path);
  log.write('old');
  await rename(path, `${path}.1`);
  log.write('still old');
  await log.reopen();
  log.write('new');
  await log.close();
  assert.equal(await readFile(`${path}.1`, 'utf8'), 'old\nstill old\n');
  assert.equal(await readFile(path, 'utf8'), 'new\n');
});

test('without a path the log is off and writes are ignored', async () => {
  const { logger, records } = memoryLogger();
  const log = new KnockLog({ logger });
  await log.open();
  log.write('nothing');
  log.writeMessage(0, 'nothing');
  await log.reopen();
  assert.equal(records.length, 0);
});

test('a log path that cannot be opened is a clear NfknockError naming the path', async (t) => {
  const dir = await tempDir(t);
  const log = new KnockLog({ logger: memoryLogger().logger });
  await assert.rejects(log.open(join(dir, 'missing-dir', 'knockd.log')), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_CONFIG_INVALID');
    assert.match(error.message, /missing-dir\/knockd\.log.*ENOENT/);
    return true;
  });
});

test('a write that fails never throws; one warning, then one when it works again', async (t) => {
  const dir = await tempDir(t);
  const sub = join(dir, 'sub');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(sub);
  const path = join(sub, 'knockd.log');
  const { logger, records } = memoryLogger();
  const log = new KnockLog({ logger });
  await log.open(path);
  // Delete the file and make re-creation impossible (a directory where the file should be).
  await unlink(path);
  await mkdir(path);
  log.write('lost 1');
  log.write('lost 2');
  await rm(path, { recursive: true });
  log.write('back');
  await log.close();
  await chmod(sub, 0o755);
  assert.equal(await readFile(path, 'utf8'), 'back\n');
  const warnings = records.filter((r) => r['level'] === 'warn').map((r) => r['msg']);
  assert.equal(warnings.filter((m) => String(m).startsWith('cannot write the knock log')).length, 1);
  const recovered = records.find((r) => r['msg'] === 'knock log writable again');
  assert.equal(recovered?.['lostLines'], 2);
});

test('-v echoes knockd lines, -D is debug and echoes them too, default is info', () => {
  assert.deepEqual(verbosityFromFlags({}), { level: 'info', echoKnockdLines: false });
  assert.deepEqual(verbosityFromFlags({ verbose: true }), { level: 'info', echoKnockdLines: true });
  assert.deepEqual(verbosityFromFlags({ debug: true }), { level: 'debug', echoKnockdLines: true });
});
