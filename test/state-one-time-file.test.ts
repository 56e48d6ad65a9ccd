import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdtemp, readFile, rename, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { OneTimeFiles } from '../src/state/one-time-file.js';
import { parseOneTimeSequences } from '../src/config/one-time.js';
import { formatSequence } from '../src/config/sequence.js';
import { isNfknockError } from '../src/core/errors.js';
import type { Door, KnockStep } from '../src/core/types.js';
import { makeDoor } from './helpers/knock-fixtures.js';
import { asNobody, NOBODY, nobodySkip } from './helpers/as-nobody.js';
import { nobodyReadableRoot } from './helpers/nobody-copy.js';

async function sequenceFile(t: { after: (fn: () => Promise<void>) => void }, text: string | Buffer, mode = 0o600) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-otp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'otp.txt');
  await writeFile(path, text);
  await chmod(path, mode);
  return { dir, path, door: makeDoor({ name: 'otp', steps: [], oneTimeFile: path }) };
}

const steps = (text: string): KnockStep[] => parseOneTimeSequences(text, 'x').lines[0]!.steps;
const line = (n: number, text: string) => ({ line: n, steps: steps(text) });

// The file from the knockd 0.8 run: knockd turned line 2 into "#000,8000,9000" and line 3 into "# 7001,...".
const FILE = '# comment\n7000,8000,9000\n  7001,8001,9001\n7002:udp,8002\n';

test("a used line's first byte becomes '#', in place, as knockd 0.8 writes it; owner, mode and inode kept", async (t) => {
  const { path, door } = await sequenceFile(t, FILE, 0o400);
  const before = await stat(path);
  const files = new OneTimeFiles();
  assert.deepEqual(await files.read(door), [line(2, '7000,8000,9000'), line(3, '7001,8001,9001'), line(4, '7002:udp,8002')]);
  await files.markUsed(door, line(2, '7000,8000,9000'));
  await files.markUsed(door, line(3, '7001,8001,9001'));
  assert.equal(await readFile(path, 'utf8'), '# comment\n#000,8000,9000\n# 7001,8001,9001\n7002:udp,8002\n');
  const after = await stat(path);
  assert.equal(after.mode & 0o7777, 0o400, 'mode kept');
  assert.deepEqual([after.ino, after.uid, after.gid, after.size], [before.ino, before.uid, before.gid, before.size], 'the same file, not a new one');
  assert.deepEqual(await new OneTimeFiles().read(door), [line(4, '7002:udp,8002')]);
});

test('a line already burnt is refused the second time, and nothing is written', async (t) => {
  const { path, door } = await sequenceFile(t, FILE);
  const files = new OneTimeFiles();
  await files.read(door);
  await files.markUsed(door, line(2, '7000,8000,9000'));
  await assert.rejects(files.markUsed(door, line(2, '7000,8000,9000')), (error: unknown) => isNfknockError(error) && error.code === 'NFK_CONFIG_INVALID');
  assert.equal(await readFile(path, 'utf8'), '# comment\n#000,8000,9000\n  7001,8001,9001\n7002:udp,8002\n');
});

test('a file edited since it was read: the line is found again by its content, or refused when gone', async (t) => {
  const { path, door } = await sequenceFile(t, FILE);
  const files = new OneTimeFiles();
  await files.read(door);
  // Lines added above (the size changes): the sequence of line 3 is now on line 4.
  await writeFile(path, `#new\n${FILE}`);
  await files.markUsed(door, line(3, '7001,8001,9001'));
  assert.equal(await readFile(path, 'utf8'), '#new\n# comment\n7000,8000,9000\n# 7001,8001,9001\n7002:udp,8002\n');
  // Replaced by another file (an editor's save): same text, another inode.
  await writeFile(`${path}.new`, '7002:udp,8002\n7000,8000,9000\n', { mode: 0o600 });
  await rename(`${path}.new`, path);
  await files.markUsed(door, line(2, '7000,8000,9000'));
  assert.equal(await readFile(path, 'utf8'), '7002:udp,8002\n#000,8000,9000\n');
  // The sequence removed: refused, the file untouched.
  await writeFile(path, '7002:udp,8002\n');
  await assert.rejects(files.markUsed(door, line(2, '7000,8000,9000')), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_CONFIG_INVALID');
    assert.match(error.message, /no unused line of the one-time sequence file holds the sequence/);
    return true;
  });
  assert.equal(await readFile(path, 'utf8'), '7002:udp,8002\n');
});

test('an edit that keeps the size but moves the line is seen (the newlines around it are compared too)', async (t) => {
  const { path, door } = await sequenceFile(t, '#a\n7000,8000\n');
  const files = new OneTimeFiles();
  await files.read(door);
  // Same size; at the old offset "7000,8000" still follows, but now inside the line "17000,8000".
  await writeFile(path, '#\n17000,8000\n');
  await assert.rejects(files.markUsed(door, line(2, '7000,8000')), (error: unknown) => isNfknockError(error) && error.code === 'NFK_CONFIG_INVALID');
  assert.equal(await readFile(path, 'utf8'), '#\n17000,8000\n');
});

test('a byte order mark stays: the line after it is burnt', async (t) => {
  const { path, door } = await sequenceFile(t, '\uFEFF7000,8000\n7001\n');
  const files = new OneTimeFiles();
  await files.read(door);
  await files.markUsed(door, line(1, '7000,8000'));
  assert.equal(await readFile(path, 'utf8'), '\uFEFF#000,8000\n7001\n');
});

test('a symlink is never followed: refused, the target untouched, no temp files (issue 10)', async (t) => {
  const { dir, path } = await sequenceFile(t, FILE);
  const link = join(dir, 'link.txt');
  await symlink(path, link);
  const viaLink: Door = makeDoor({ name: 'otp', steps: [], oneTimeFile: link });
  const files = new OneTimeFiles();
  await assert.rejects(files.read(viaLink), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED' && /symbolic link/.test(error.message));
  await assert.rejects(files.markUsed(viaLink, line(2, '7000,8000,9000')), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED' && /symbolic link/.test(error.message));
  assert.equal(await readFile(path, 'utf8'), FILE);
  assert.deepEqual((await readdir(dir)).sort(), ['link.txt', 'otp.txt']);
});

test('a missing file is a read error', async (t) => {
  const { path } = await sequenceFile(t, FILE);
  const missing = makeDoor({ name: 'otp', steps: [], oneTimeFile: `${path}.missing` });
  await assert.rejects(new OneTimeFiles().markUsed(missing, line(2, '7000,8000,9000')), (error: unknown) => isNfknockError(error) && error.code === 'NFK_CONFIG_READ' && /ENOENT/.test(error.message));
});

test('marks issued together on one file are all kept (no lost update)', async (t) => {
  const { path, door } = await sequenceFile(t, FILE);
  const files = new OneTimeFiles();
  await files.read(door);
  await Promise.all([files.markUsed(door, line(2, '7000,8000,9000')), files.markUsed(door, line(3, '7001,8001,9001')), files.markUsed(door, line(4, '7002:udp,8002'))]);
  assert.equal(await readFile(path, 'utf8'), '# comment\n#000,8000,9000\n# 7001,8001,9001\n#002:udp,8002\n');
});

test('burning any lines in any order changes exactly their first bytes (property)', async (t) => {
  const { path, door } = await sequenceFile(t, '');
  const step = fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp' as const, 'udp' as const) });
  const fileLine = fc.oneof(
    fc.array(step, { minLength: 1, maxLength: 4 }).map((s) => ({ steps: s as KnockStep[] | undefined, text: formatSequence(s) })),
    fc.array(step, { minLength: 1, maxLength: 4 }).map((s) => ({ steps: s as KnockStep[] | undefined, text: ` \t${formatSequence(s)}\r` })),
    fc.constantFrom('', '# é comment', '#001,2').map((text) => ({ steps: undefined as KnockStep[] | undefined, text })),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fileLine, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), async (lines, picks) => {
      const text = `${lines.map((l) => l.text).join('\n')}\n`;
      await writeFile(path, text);
      const files = new OneTimeFiles();
      const unused = await files.read(door);
      const burnt = new Set<number>();
      for (const pick of picks) {
        const left = unused.filter((l) => !burnt.has(l.line));
        const chosen = left[pick % Math.max(1, left.length)];
        if (!chosen) continue;
        await files.markUsed(door, chosen);
        burnt.add(chosen.line);
      }
      const expected = text
        .split('\n')
        .map((l, i) => (burnt.has(i + 1) ? `#${[...l].slice(1).join('')}` : l))
        .join('\n');
      assert.equal(await readFile(path, 'utf8'), expected);
      assert.deepEqual(
        (await new OneTimeFiles().read(door)).map((l) => l.line),
        unused.map((l) => l.line).filter((n) => !burnt.has(n)),
      );
    }),
    { numRuns: 60 },
  );
});

test('a file the daemon may read but not write (0400 without CAP_DAC_OVERRIDE, as under the unit) is replaced whole: same marks, mode and owner kept', { skip: nobodySkip }, async (t) => {
  // nobody has no CAP_DAC_OVERRIDE, as the unit's root has none: opening its own 0400 file for writing fails with EACCES.
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-otp-ro-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'otp.txt');
  await writeFile(path, FILE);
  await chown(path, NOBODY, NOBODY);
  await chmod(path, 0o400);
  await chown(dir, NOBODY, NOBODY);
  await chmod(dir, 0o700);
  const module = join(nobodyReadableRoot(), 'dist/src/state/one-time-file.js');
  const script = [
    `const { OneTimeFiles } = await import(${JSON.stringify(module)});`,
    `const door = { name: "otp", oneTimeFile: ${JSON.stringify(path)} };`,
    'const files = new OneTimeFiles();',
    'const [first, second] = await files.read(door);',
    'await files.markUsed(door, first);',
    'await files.markUsed(door, second);',
    "await files.markUsed(door, first).then(() => process.exit(3), () => undefined);",
    "console.log(JSON.stringify(await files.read(door)));",
  ].join('\n');
  const run = asNobody(`node --input-type=module -e '${script}'`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [line(4, '7002:udp,8002')]);
  assert.equal(await readFile(path, 'utf8'), '# comment\n#000,8000,9000\n# 7001,8001,9001\n7002:udp,8002\n');
  const after = await stat(path);
  assert.equal(after.mode & 0o7777, 0o400, 'mode kept');
  assert.deepEqual([after.uid, after.gid], [NOBODY, NOBODY], 'owner kept');
  assert.deepEqual((await readdir(dir)).sort(), ['otp.txt'], 'no temp file left');
});
