import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StateStore, STATE_FILE_NAME, USED_STEPS_FILE_NAME, type PendingClose } from '../src/state/state-store.js';
import { parseState, serializeState } from '../src/state/state-format.js';
import { writeFileAtomic } from '../src/state/atomic-file.js';
import { isNfknockError } from '../src/core/errors.js';
import { nobodyReadablePath } from './helpers/nobody-copy.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const pendingClose = (id: string, source = '10.0.0.2'): PendingClose => ({
  id,
  door: 'openSSH',
  source,
  family: 4,
  stopCommand: `iptables -D INPUT -s ${source} -j ACCEPT`,
  openedAt: 1_000,
  closesAt: 11_000,
});

test('a missing state directory is created 0700 and starts empty; saves round-trip', async (t) => {
  const dir = join(await tempDir(t), 'var', 'lib', 'nfknock');
  const store = new StateStore(dir);
  assert.deepEqual(await store.load(), { pending: [], usedSteps: new Map(), problems: [] });
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const pending = [pendingClose('a'), pendingClose('b', '10.0.0.3')];
  await store.save(pending);
  assert.equal((await stat(join(dir, STATE_FILE_NAME))).mode & 0o777, 0o600);
  assert.deepEqual(await new StateStore(dir).load(), { pending, usedSteps: new Map(), problems: [] });
});

test('used time steps are saved with the pending closes, written only when they change, and read back', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  await store.load();
  await store.saveState({ pending: [pendingClose('a')], usedSteps: new Map() });
  assert.deepEqual(await readdir(dir), [STATE_FILE_NAME], 'no used steps, no file');
  await store.saveState({ pending: [pendingClose('a')], usedSteps: new Map([['ssh', [7, 8]]]) });
  const steps = join(dir, USED_STEPS_FILE_NAME);
  assert.equal((await stat(steps)).mode & 0o777, 0o600);
  await rm(steps);
  await store.saveState({ pending: [], usedSteps: new Map([['ssh', [7, 8]]]) });
  assert.deepEqual(await readdir(dir), [STATE_FILE_NAME], 'unchanged steps are not written again');
  await store.saveState({ pending: [], usedSteps: new Map([['ssh', [8]]]) });
  const loaded = await new StateStore(dir).load();
  assert.deepEqual(loaded.usedSteps, new Map([['ssh', [8]]]));
  assert.deepEqual(loaded.pending, []);
});

test('a corrupt used-steps file is reported, not thrown, and door names are never object keys', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  await writeFile(join(dir, USED_STEPS_FILE_NAME), '{"__proto__": [1], "ssh": [2, "x"], "web": [3]}');
  const loaded = await new StateStore(dir).load();
  assert.deepEqual(loaded.usedSteps, new Map([['__proto__', [1]], ['web', [3]]]));
  await writeFile(join(dir, USED_STEPS_FILE_NAME), 'not json');
  const broken = await new StateStore(dir).load();
  assert.deepEqual(broken.usedSteps, new Map());
  assert.match(broken.problems[0] ?? '', /time-steps\.json is corrupt/);
});

test('a corrupt state file is renamed aside and reported, never thrown', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  await writeFile(join(dir, STATE_FILE_NAME), '{"format":"nfknock-state","version":1,"pend');
  const store = new StateStore(dir, { now: () => 1234 });
  const loaded = await store.load();
  assert.deepEqual(loaded.pending, []);
  assert.equal(loaded.problems.length, 1);
  assert.match(loaded.problems[0] ?? '', /unusable: not valid JSON.*moved aside to .*pending-closes\.json\.corrupt-1234/);
  assert.deepEqual((await readdir(dir)).sort(), [`${STATE_FILE_NAME}.corrupt-1234`]);
});

test('an unreadable state file (a directory in its place) is moved aside and reported', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  await mkdir(join(dir, STATE_FILE_NAME));
  const loaded = await new StateStore(dir, { now: () => 7 }).load();
  assert.match(loaded.problems[0] ?? '', /cannot read .*(EISDIR|is a directory).*moved aside/);
  assert.deepEqual(await readdir(dir), [`${STATE_FILE_NAME}.corrupt-7`]);
});

test('one bad record is skipped and reported; the good ones load and the file is kept as evidence', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const document = JSON.parse(serializeState([pendingClose('good'), pendingClose('bad')]));
  document.pending[1].source = '10.0.0.002';
  const text = JSON.stringify(document);
  await writeFile(join(dir, STATE_FILE_NAME), text);
  const loaded = await new StateStore(dir, { now: () => 9 }).load();
  assert.deepEqual(loaded.pending.map((p) => p.id), ['good']);
  assert.match(loaded.problems[0] ?? '', /skipped a pending close: pending\[1\] \(door "openSSH", source "10.0.0.002"\).*copied to/);
  assert.deepEqual((await readdir(dir)).sort(), [STATE_FILE_NAME, `${STATE_FILE_NAME}.corrupt-9`]);
});

test('a state directory that cannot be created is NFK_STATE_IO', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file'), '');
  await assert.rejects(new StateStore(join(dir, 'file', 'state')).load(), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_STATE_IO');
    assert.match(error.message, /cannot create the state directory .*ENOTDIR/);
    return true;
  });
});

test('a state directory others can write to is refused: its stop commands are not trustworthy', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o777);
  await assert.rejects(new StateStore(dir).load(), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_UNTRUSTED');
    assert.match(error.message, /can be written by group\/other \(mode 0777\).*chmod 700/);
    return true;
  });
});

test('a state directory that is read-only is NFK_STATE_IO when saving', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o500);
  if (process.geteuid?.() !== 0) {
    t.after(() => chmod(dir, 0o700));
    await assert.rejects(new StateStore(dir).load(), /not writable/);
    return;
  }
  // Root writes anywhere: run the store as nobody, owning the 0500 directory, to see the refusal.
  await chown(dir, 65534, 65534);
  const storeModule = pathToFileURL(nobodyReadablePath('dist/src/state/state-store.js')).href;
  const script = `import(${JSON.stringify(storeModule)}).then((m) => new m.StateStore(${JSON.stringify(dir)}).load()).then(() => console.log('loaded'), (e) => console.log(e.code, e.message))`;
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^NFK_STATE_IO .*not writable/);
});

test('concurrent saves never interleave, coalesce, and the last one wins', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  await store.load();
  const lists = Array.from({ length: 50 }, (_, i) => Array.from({ length: i + 1 }, (_, j) => pendingClose(`id-${i}-${j}`)));
  await Promise.all(lists.map((list) => store.save(list)));
  const loaded = await new StateStore(dir).load();
  assert.equal(loaded.pending.length, 50);
  assert.deepEqual(loaded.pending, lists[49]);
  assert.deepEqual(await readdir(dir), [STATE_FILE_NAME], 'no temp files left');
});

test('a failed save rejects with NFK_STATE_IO and a later save still works', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  await store.load();
  await mkdir(join(dir, STATE_FILE_NAME));
  await writeFile(join(dir, STATE_FILE_NAME, 'x'), '');
  await assert.rejects(store.save([pendingClose('a')]), (error: unknown) => isNfknockError(error) && error.code === 'NFK_STATE_IO');
  await rm(join(dir, STATE_FILE_NAME), { recursive: true });
  await store.save([pendingClose('b')]);
  assert.deepEqual((await new StateStore(dir).load()).pending.map((p) => p.id), ['b']);
});

test('a crash at any moment of a save leaves either the old or the new file', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const big = (tag: string) => Array.from({ length: 300 }, (_, i) => pendingClose(`${tag}-${i}`));
  const versions = new Map([serializeState(big('old')), serializeState(big('new'))].map((text) => [text, true]));
  const module = fileURLToPath(new URL('../src/state/state-store.js', import.meta.url));
  const script = `
    const { StateStore } = await import(${JSON.stringify(module)});
    const big = (tag) => Array.from({ length: 300 }, (_, i) => ({ id: tag + '-' + i, door: 'openSSH', source: '10.0.0.2', family: 4,
      stopCommand: 'iptables -D INPUT -s 10.0.0.2 -j ACCEPT', openedAt: 1000, closesAt: 11000 }));
    const store = new StateStore(process.argv[1]);
    await store.load();
    process.stdout.write('ready\\n');
    for (let i = 0; ; i++) await store.save(big(i % 2 ? 'new' : 'old'));
  `;
  await new StateStore(dir).save(big('old'));
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 5 + round * 7));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const text = await readFile(join(dir, STATE_FILE_NAME), 'utf8');
    // The snapshot also names its first journal generation, which moves with every save: compare the records.
    assert.ok(versions.has(serializeState(parseState(text).pending)), `round ${round}: the file is one complete version`);
    assert.deepEqual(parseState(text).problems, []);
  }
  const loaded = await new StateStore(dir).load();
  assert.equal(loaded.pending.length, 300);
  assert.ok(!(await readdir(dir)).some((n) => n.includes('tmp')), 'temp files of killed saves are cleaned up at load');
});

test('writeFileAtomic sets the requested mode regardless of the umask', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'f');
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(path, 'x', 0o644);
  } finally {
    process.umask(old);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o644);
  assert.equal(await readFile(path, 'utf8'), 'x');
});
