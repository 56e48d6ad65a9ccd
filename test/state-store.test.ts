import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, chmod, mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
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

const journalOf = (generation: number) => `pending-closes.journal.${generation}`;

test('a decision appends one line to the journal: the snapshot of the doors already open is not rewritten', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const many = Array.from({ length: 200 }, (_, i) => pendingClose(`old-${i}`));
  await new StateStore(dir).save(many);
  const snapshot = await readFile(join(dir, STATE_FILE_NAME), 'utf8');
  const store = new StateStore(dir);
  t.after(() => store.close());
  assert.equal((await store.load()).pending.length, 200);
  await store.record({ opened: pendingClose('new', '10.0.0.9') });
  await store.record({ closed: 'old-7' });
  assert.equal(await readFile(join(dir, STATE_FILE_NAME), 'utf8'), snapshot, 'the snapshot is untouched');
  const names = (await readdir(dir)).sort();
  assert.deepEqual(names, [journalOf(1), STATE_FILE_NAME]);
  assert.equal((await stat(join(dir, journalOf(1)))).mode & 0o777, 0o600);
  const lines = (await readFile(join(dir, journalOf(1)), 'utf8')).split('\n');
  assert.deepEqual(lines.map((line) => line.split(' ')[0]), ['nfknock-journal', 'opened', 'closed', '']);
  const loaded = await new StateStore(dir).load();
  assert.equal(loaded.pending.length, 200);
  assert.ok(loaded.pending.some((p) => p.id === 'new') && !loaded.pending.some((p) => p.id === 'old-7'));
});

test('records arriving while a write is in flight share the next fdatasync (group commit), in order', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  t.after(() => store.close());
  await store.save(Array.from({ length: 100 }, (_, i) => pendingClose(`keep-${i}`)));
  const probe = await open(join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  await rm(join(dir, 'probe'));
  const datasync = prototype.datasync;
  let syncs = 0;
  prototype.datasync = function (this: unknown) {
    syncs++;
    return datasync.call(this);
  };
  try {
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.record({ opened: pendingClose(`g-${i}`) })));
  } finally {
    prototype.datasync = datasync;
  }
  assert.ok(syncs <= 3, `50 records, ${syncs} fdatasyncs`);
  const ids = (await new StateStore(dir).load()).pending.map((p) => p.id);
  assert.deepEqual(ids.slice(100), Array.from({ length: 50 }, (_, i) => `g-${i}`));
});

test('upgrade: the pending-closes.json the released version wrote is read, and journal records on top', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  // The released version's file: no "journal" field, written whole at every decision.
  await writeFile(join(dir, STATE_FILE_NAME), serializeState([pendingClose('a'), pendingClose('b', '10.0.0.3')]), { mode: 0o600 });
  const store = new StateStore(dir);
  assert.deepEqual((await store.load()).pending.map((p) => p.id), ['a', 'b']);
  await store.record({ closed: 'a' });
  await store.record({ opened: { ...pendingClose('b', '10.0.0.3'), closesAt: 99_000 } });
  await store.record({ opened: pendingClose('c', '10.0.0.4') });
  const loaded = await new StateStore(dir).load();
  assert.deepEqual(loaded.pending.map((p) => [p.id, p.closesAt]), [['b', 99_000], ['c', 11_000]]);
  assert.deepEqual(loaded.problems, []);
  await store.close();
  assert.deepEqual(await readdir(dir), [STATE_FILE_NAME], 'closing folds the journal into the snapshot');
  assert.deepEqual(parseState(await readFile(join(dir, STATE_FILE_NAME), 'utf8')).pending.map((p) => p.id), ['b', 'c']);
});

test('a last journal line cut short by a crash is ignored and noted quietly; appends go to a new journal', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const line = (p: PendingClose) => `opened ${JSON.stringify(p)}\n`;
  await writeFile(join(dir, journalOf(3)), `nfknock-journal 1\n${line(pendingClose('a'))}${line(pendingClose('b')).slice(0, 40)}`, { mode: 0o600 });
  const store = new StateStore(dir);
  t.after(() => store.close());
  const loaded = await store.load();
  assert.deepEqual(loaded.pending.map((p) => p.id), ['a']);
  assert.deepEqual(loaded.problems, []);
  assert.match(loaded.notices?.[0] ?? '', /pending-closes\.journal\.3: a last line cut short .* was ignored/);
  await store.record({ opened: pendingClose('c') });
  assert.ok((await readdir(dir)).includes(journalOf(4)), 'never appended after a torn line');
  assert.deepEqual((await new StateStore(dir).load()).pending.map((p) => p.id).sort(), ['a', 'c']);
});

test('a corrupt journal record is reported and skipped, the rest replayed, and the journal copied aside', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const text = `nfknock-journal 1\nopened ${JSON.stringify(pendingClose('a'))}\nopened ${JSON.stringify({ ...pendingClose('x'), source: '10.0.0.002' })}\nclosed "gone"\nopened ${JSON.stringify(pendingClose('b'))}\n`;
  await writeFile(join(dir, journalOf(1)), text, { mode: 0o600 });
  const loaded = await new StateStore(dir, { now: () => 9 }).load();
  assert.deepEqual(loaded.pending.map((p) => p.id), ['a', 'b']);
  assert.equal(loaded.problems.length, 1);
  assert.match(loaded.problems[0] ?? '', /journal\.1: skipped a record: line 3: opened \(door "openSSH", source "10\.0\.0\.002"\).*copied to .*journal\.1\.corrupt-9/);
  assert.equal(await readFile(join(dir, `${journalOf(1)}.corrupt-9`), 'utf8'), text);
  // A journal of a format this version does not read is moved aside whole.
  await writeFile(join(dir, journalOf(2)), 'nfknock-journal 9\nsomething new\n', { mode: 0o600 });
  const newer = await new StateStore(dir, { now: () => 10 }).load();
  assert.match(newer.problems.at(-1) ?? '', /journal\.2 is unusable: the first line is not "nfknock-journal 1"; moved aside to .*journal\.2\.corrupt-10/);
});

test('a journal is created O_EXCL|O_NOFOLLOW in the checked directory: a symlink planted at its name is refused', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const target = join(dir, 'elsewhere');
  await writeFile(target, 'untouched\n');
  const store = new StateStore(dir);
  t.after(() => store.close());
  await store.load();
  await symlink(target, join(dir, journalOf(1)));
  await assert.rejects(store.record({ opened: pendingClose('a') }), (error: unknown) => isNfknockError(error) && error.code === 'NFK_STATE_IO');
  assert.equal(await readFile(target, 'utf8'), 'untouched\n', 'never written through the link');
  // Reading never follows it either: like a linked pending-closes.json, it is refused.
  await assert.rejects(new StateStore(dir).load(), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED' && /journal\.1 is a symbolic link/.test(error.message));
});

for (const crashAfter of ['switched', 'snapshot-written', 'journals-removed'] as const) {
  test(`a compaction that crashes after "${crashAfter}" loses nothing`, async (t) => {
    const dir = await tempDir(t);
    await chmod(dir, 0o700);
    await new StateStore(dir).save([pendingClose('s1'), pendingClose('s2')]);
    let crashed = false;
    const store = new StateStore(dir, {
      // The crash: from this step on the compaction never goes on (the process is gone).
      compactionStep: (step) => (step === crashAfter ? ((crashed = true), new Promise<void>(() => undefined)) : Promise.resolve()),
    });
    await store.load();
    await store.record({ opened: pendingClose('j1') });
    await store.record({ closed: 's1' });
    await store.record({ opened: { ...pendingClose('s2'), closesAt: 50_000 } });
    void store.compact();
    await waitUntil(() => crashed);
    // Decisions go on while the compaction is stuck: they go to the new journal.
    await store.record({ opened: pendingClose('after') });
    await store.record({ closed: 'j1' });
    const loaded = await new StateStore(dir).load();
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.pending.map((p) => [p.id, p.closesAt]).sort(), [['after', 11_000], ['s2', 50_000]]);
  });
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

test('a snapshot names its first journal: journals older than it are never replayed over it', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  // A crash right after a save that replaced everything, before the old journal was removed.
  await writeFile(join(dir, STATE_FILE_NAME), serializeState([pendingClose('new')], 5), { mode: 0o600 });
  await writeFile(join(dir, journalOf(4)), `nfknock-journal 1\nopened ${JSON.stringify(pendingClose('stale'))}\n`, { mode: 0o600 });
  await writeFile(join(dir, journalOf(5)), `nfknock-journal 1\nopened ${JSON.stringify(pendingClose('later'))}\n`, { mode: 0o600 });
  const store = new StateStore(dir);
  assert.deepEqual((await store.load()).pending.map((p) => p.id), ['new', 'later']);
  await store.record({ opened: pendingClose('last') });
  assert.ok((await readdir(dir)).includes(journalOf(6)));
  await store.close();
  assert.deepEqual(await readdir(dir), [STATE_FILE_NAME], 'the next compaction removes the stale journal too');
  assert.deepEqual((await new StateStore(dir).load()).pending.map((p) => p.id), ['new', 'later', 'last']);
});

test('a failed append rejects with NFK_STATE_IO, and later records go to a new journal', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  t.after(() => store.close());
  await store.save([pendingClose('a'), pendingClose('b')]);
  await mkdir(join(dir, journalOf(1)));
  await assert.rejects(store.record({ opened: pendingClose('x') }), (error: unknown) => isNfknockError(error) && error.code === 'NFK_STATE_IO' && /cannot append to .*journal\.1/.test(error.message));
  await store.record({ closed: 'x' });
  await store.record({ opened: pendingClose('y') });
  assert.deepEqual((await new StateStore(dir).load()).pending.map((p) => p.id), ['a', 'b', 'y']);
});

test('after close (exit) a record is refused rather than loading the state again; a load opens it again', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o700);
  const store = new StateStore(dir);
  await store.load();
  await store.record({ opened: pendingClose('a') });
  await store.close();
  await assert.rejects(store.record({ opened: pendingClose('late') }), (error: unknown) => isNfknockError(error) && error.code === 'NFK_STATE_IO' && /closed/.test(error.message));
  assert.deepEqual((await store.load()).pending.map((p) => p.id), ['a']);
  await store.record({ closed: 'a' });
  await store.close();
  assert.deepEqual((await new StateStore(dir).load()).pending, []);
});
