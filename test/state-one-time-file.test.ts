import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { commentOutLine, markSequenceUsed } from '../src/state/one-time-file.js';
import { isNfknockError } from '../src/core/errors.js';

async function sequenceFile(t: { after: (fn: () => Promise<void>) => void }, text: string, mode = 0o600) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-g-otp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'otp.txt');
  await writeFile(path, text);
  await chmod(path, mode);
  return { dir, path };
}

// The file from the knockd 0.8 run: knockd turned line 2 into "#000,8000,9000" and line 3 into "# 7001,...".
const FILE = '# comment\n7000,8000,9000\n  7001,8001,9001\n7002:udp,8002\n';

test('the used line is commented out with a leading #, the rest of the file untouched', async (t) => {
  const { path } = await sequenceFile(t, FILE, 0o400);
  await markSequenceUsed(path, 2, '7000,8000,9000');
  await markSequenceUsed(path, 3, '7001,8001,9001');
  assert.equal(await readFile(path, 'utf8'), '# comment\n#7000,8000,9000\n#  7001,8001,9001\n7002:udp,8002\n');
  assert.equal((await stat(path)).mode & 0o777, 0o400, 'mode kept');
});

test('marking is idempotent: a line already commented out stays as it is', async (t) => {
  const { path } = await sequenceFile(t, FILE);
  await markSequenceUsed(path, 2);
  await markSequenceUsed(path, 2);
  await markSequenceUsed(path, 1);
  assert.equal(await readFile(path, 'utf8'), '# comment\n#7000,8000,9000\n  7001,8001,9001\n7002:udp,8002\n');
});

test('a file edited since it was read is refused rather than burning the wrong line', async (t) => {
  const { path } = await sequenceFile(t, FILE);
  await assert.rejects(markSequenceUsed(path, 2, '1,2,3'), (error: unknown) => {
    assert.ok(isNfknockError(error));
    assert.equal(error.code, 'NFK_CONFIG_INVALID');
    assert.equal(error.location?.line, 2);
    return true;
  });
  await assert.rejects(markSequenceUsed(path, 9), /no line 9/);
  await assert.rejects(markSequenceUsed(`${path}.missing`, 1), (error: unknown) => isNfknockError(error) && error.code === 'NFK_CONFIG_READ');
  assert.equal(await readFile(path, 'utf8'), FILE);
});

test('a symlink is never followed: refused, the target untouched, no temp files (issue 10)', async (t) => {
  const { dir, path } = await sequenceFile(t, FILE);
  const link = join(dir, 'link.txt');
  await symlink(path, link);
  await assert.rejects(markSequenceUsed(link, 4), (error: unknown) => isNfknockError(error) && error.code === 'NFK_UNTRUSTED' && /symbolic link/.test(error.message));
  assert.equal(await readFile(path, 'utf8'), FILE);
  assert.deepEqual((await readdir(dir)).sort(), ['link.txt', 'otp.txt']);
});

test('commentOutLine changes exactly one line and keeps line endings', () => {
  assert.equal(commentOutLine('a\r\nb\r\n', 2)?.text, 'a\r\n#b\r\n');
  assert.equal(commentOutLine('a\nb', 2)?.text, 'a\n#b');
  assert.equal(commentOutLine('a\n', 2), undefined);
  assert.equal(commentOutLine('a\n', 0), undefined);
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[0-9:,a-z #]{0,20}$/), { minLength: 1, maxLength: 10 }), fc.nat(), (lines, pick) => {
      const text = `${lines.join('\n')}\n`;
      const lineNumber = (pick % lines.length) + 1;
      const result = commentOutLine(text, lineNumber);
      assert.ok(result);
      const after = result.text.split('\n');
      const before = text.split('\n');
      assert.equal(after.length, before.length);
      after.forEach((line, i) => {
        if (i === lineNumber - 1) assert.ok(line.trimStart().startsWith('#'));
        else assert.equal(line, before[i]);
      });
    }),
  );
});

test('marks issued together on one file are all kept (no lost update)', async (t) => {
  const { path } = await sequenceFile(t, FILE);
  await Promise.all([markSequenceUsed(path, 2), markSequenceUsed(path, 3), markSequenceUsed(path, 4)]);
  assert.equal(await readFile(path, 'utf8'), '# comment\n#7000,8000,9000\n#  7001,8001,9001\n#7002:udp,8002\n');
});
