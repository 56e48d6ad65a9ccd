/**
 * Issue 10, findings 2, 4 and 6, as the attacker would try them: files and directories that another
 * user controls are never trusted, and nothing is read or written through a symlink swapped in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, STATE_FILE_NAME, type PendingClose } from '../src/state/state-store.js';
import { serializeState } from '../src/state/state-format.js';
import { loadConfig } from '../src/config/load.js';
import { KnockLog } from '../src/logging/knock-log.js';
import { createLogger } from '../src/logging/logger.js';
import { isNfknockError } from '../src/core/errors.js';
import { nfknockdPath } from './helpers/daemon-lab.js';
import { asNobody, NOBODY, nobodySkip, spawnAsNobody, stopNobody } from './helpers/as-nobody.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const record = (stopCommand: string): PendingClose => ({ id: 'evil', door: 'openSSH', source: '10.0.0.2', family: 4, stopCommand, openedAt: Date.now(), closesAt: Date.now() + 60_000 });

test('finding 2: saves go to the state directory that was checked, not to a symlink swapped in at its path', async (t) => {
  const dir = await tempDir(t);
  const stateDir = join(dir, 'state');
  const store = new StateStore(stateDir);
  await store.load();
  t.after(() => store.close());
  // The attacker moves the checked directory away and puts a link to their own in its place.
  await rename(stateDir, join(dir, 'moved'));
  await mkdir(join(dir, 'theirs'));
  await symlink(join(dir, 'theirs'), stateDir);
  await store.save([record('iptables -D INPUT -s 10.0.0.2 -j ACCEPT')]);
  assert.deepEqual(await readdir(join(dir, 'theirs')), [], 'nothing written through the link');
  assert.match(await readFile(join(dir, 'moved', STATE_FILE_NAME), 'utf8'), /10\.0\.0\.2/);
});

test('finding 2: a state dir below a directory another user can write is refused before anything is read', { skip: nobodySkip, timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const theirs = join(dir, 'theirs');
  await mkdir(theirs, { mode: 0o755 });
  await chown(theirs, NOBODY, NOBODY);
  const stateDir = join(theirs, 'state');
  await mkdir(stateDir, { mode: 0o700 });
  await writeFile(join(stateDir, STATE_FILE_NAME), serializeState([]), { mode: 0o600 });
  const marker = join(dir, 'root-ran-nobodys-command');
  // nobody's own state, with nobody's stop command, and a loop that swaps it in and out of the path.
  const evil = join(theirs, 'evil');
  const planted = join(dir, 'planted.json');
  await writeFile(planted, serializeState([record(`touch ${marker}`)]), { mode: 0o644 });
  assert.equal(asNobody(`mkdir -m 700 ${evil} && cp ${planted} ${evil}/${STATE_FILE_NAME}`).status, 0);
  const swapper = spawnAsNobody(`cd ${theirs} && while :; do mv -T state real 2>/dev/null; ln -s evil state; rm -f state; mv -T real state 2>/dev/null; done`);
  t.after(() => stopNobody(swapper));
  const config = join(dir, 'knockd.conf');
  await writeFile(config, '[openSSH]\n    sequence = 7000,notaport\n    command = true\n');
  for (let attempt = 0; attempt < 8; attempt++) {
    const result = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', stateDir], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(result.status, 78, result.stderr);
  }
  assert.equal(existsSync(marker), false, 'root never ran the stop command nobody planted');
  stopNobody(swapper);
  await new Promise((resolve) => setTimeout(resolve, 100));
  if (!existsSync(stateDir)) await rename(join(theirs, 'real'), stateDir).catch(() => undefined);
  await assert.rejects(new StateStore(stateDir).load(), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED' && error.message.includes(`directory ${theirs} on the way is owned by uid ${NOBODY}`));
});

test('finding 4: one-time sequence files others can write or read are refused; chmod 600 is the fix', { skip: nobodySkip }, async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const sequences = join(dir, 'otp');
  await writeFile(sequences, '7000,8000,9000\n');
  await chmod(sequences, 0o666);
  const config = join(dir, 'knockd.conf');
  await writeFile(config, `[mail]\n    one_time_sequences = ${sequences}\n    command = true\n`, { mode: 0o600 });
  // nobody adds a sequence of their own.
  assert.equal(asNobody(`echo 1111,2222,3333 >> ${sequences}`).status, 0);
  await assert.rejects(loadConfig(config), (error: unknown) => isNfknockError(error) && /one-time sequences file .* can be written by group\/other \(mode 0666\): chmod 600 /.test(error.message));
  await chmod(sequences, 0o644);
  await assert.rejects(loadConfig(config), (error: unknown) => isNfknockError(error) && /can be read by group\/other \(mode 0644\): chmod 600 /.test(error.message));
  await chmod(sequences, 0o600);
  const loaded = await loadConfig(config);
  assert.equal(loaded.doors[0]?.oneTimeFile, sequences);
});

test('finding 4: a one-time file that is a symlink is refused without quoting what it points to', { skip: nobodySkip }, async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o1777);
  const secret = join(dir, 'root-only.conf');
  await writeFile(secret, 'db_password=hunter2\n', { mode: 0o600 });
  const link = join(dir, 'otp');
  assert.equal(asNobody(`ln -s ${secret} ${link}`).status, 0);
  const config = join(dir, 'knockd.conf');
  await writeFile(config, `[mail]\n    one_time_sequences = ${link}\n    command = true\n`, { mode: 0o600 });
  await assert.rejects(loadConfig(config), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.match(error.message, /symbolic link/);
    assert.doesNotMatch(`${error.message} ${JSON.stringify(error)}`, /db_password|hunter2/);
    return true;
  });
});

test('finding 6: a LogFile symlink planted by another user is never followed: nothing appended, nothing created', { skip: nobodySkip }, async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const target = join(dir, 'root-file');
  await writeFile(target, 'root data\n', { mode: 0o600 });
  const created = join(dir, 'created-by-root');
  const log = new KnockLog({ logger: createLogger({ level: 'silent' }) });
  // A directory nobody owns (refused as an ancestor), and a root-owned one nobody may write (refused as a link).
  const theirs = join(dir, 'theirs');
  await mkdir(theirs, { mode: 0o755 });
  await chown(theirs, NOBODY, NOBODY);
  const group = join(dir, 'group-writable');
  await mkdir(group, { mode: 0o775 });
  await chown(group, 0, NOBODY);
  await chmod(group, 0o775);
  for (const shared of [theirs, group]) {
    assert.equal(asNobody(`ln -s ${target} ${shared}/knockd.log && ln -s ${created} ${shared}/other.log`).status, 0);
    for (const name of ['knockd.log', 'other.log']) {
      await assert.rejects(log.open(join(shared, name)), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED');
    }
  }
  // In a directory only root writes, a link is still refused by O_NOFOLLOW.
  const own = join(dir, 'own');
  await mkdir(own, { mode: 0o755 });
  await symlink(target, join(own, 'knockd.log'));
  await assert.rejects(log.open(join(own, 'knockd.log')), (error: unknown) => isNfknockError(error) && /is a symbolic link/.test(error.message));
  assert.equal(await readFile(target, 'utf8'), 'root data\n');
  assert.equal(existsSync(created), false);
  // A LogFile nobody owns is refused too: its owner could make it a link between two writes.
  await writeFile(join(own, 'owned.log'), '');
  await chown(join(own, 'owned.log'), NOBODY, NOBODY);
  await assert.rejects(log.open(join(own, 'owned.log')), /owned by uid 65534/);
});
