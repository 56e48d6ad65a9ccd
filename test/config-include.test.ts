import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { matchingNames, mergeDropIns, parseIncludePattern, type IncludePattern } from '../src/config/include.js';
import { loadConfig } from '../src/config/load.js';
import { parseConfig } from '../src/config/parse.js';
import { ConfigError } from '../src/config/problems.js';
import { checkConfig, formatCheckReport } from '../src/check/check.js';

/** Matches the `file:line: message` text the CLI prints, not just the message. */
const described = (pattern: RegExp) => (error: unknown) => error instanceof ConfigError && pattern.test(error.describe());

const door = (name: string, port: number) => `[${name}]\n  sequence = ${port},${port + 1},${port + 2}\n  start_command = true\n`;

function pattern(text: string): IncludePattern {
  const parsed = parseIncludePattern(text);
  assert.ok(parsed.ok, text);
  return parsed.value;
}

test('Include patterns: absolute, wildcards only in the file name, shell-like matching', () => {
  for (const bad of ['doors.d/*.conf', '/etc/*/doors.conf', '/etc/nfknock/', '/etc/[ab/x.conf', '/etc/x[ab']) {
    assert.equal(parseIncludePattern(bad).ok, false, bad);
  }
  const conf = pattern('/etc/nfknock/doors.d/*.conf');
  assert.equal(conf.directory, '/etc/nfknock/doors.d');
  assert.deepEqual(matchingNames(conf, ['b.conf', 'a.conf', '.hidden.conf', 'c.conf~', 'c.conf.dpkg-old', 'x.conf']), ['a.conf', 'b.conf', 'x.conf']);
  assert.deepEqual(matchingNames(pattern('/d/[0-9]?-[!x]*.conf'), ['10-a.conf', '1-a.conf', '20-x.conf', 'a0-b.conf']), ['10-a.conf']);
  assert.deepEqual(matchingNames(pattern('/d/a+(b).conf'), ['a+(b).conf', 'aab.conf']), ['a+(b).conf']);
  assert.deepEqual(matchingNames(pattern('/d/one.conf'), ['one.conf', 'oneXconf']), ['one.conf']);
});

test('a literal Include name matches exactly itself; `*` matches every name not starting with a dot', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[/*?[]/.test(s) && s !== '.' && s !== '..'), fc.string({ maxLength: 20 }), (name, other) => {
      const literal = pattern(`/d/${name}`);
      assert.equal(literal.matches(name), true);
      assert.equal(literal.matches(other), other === name);
      assert.equal(pattern('/d/*').matches(name), !name.startsWith('.'));
    }),
  );
});

test('mergeDropIns keeps file order, records each door file and refuses a name defined twice anywhere', () => {
  const main = parseConfig(`[options]\n  Include = /d/*.conf\n${door('a', 7000)}`, '/etc/knockd.conf');
  const one = parseConfig(door('b', 7100), '/d/10-one.conf', { dropIn: true });
  const two = parseConfig(`\n\n${door('a', 7200)}`, '/d/20-two.conf', { dropIn: true });
  const merged = mergeDropIns(main, [one]);
  assert.deepEqual(merged.doors.map((d) => [d.name, d.file]), [['a', undefined], ['b', '/d/10-one.conf']]);
  assert.equal(merged.includes, undefined);
  assert.throws(() => mergeDropIns(main, [one, two]), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.describe(), /^\/d\/20-two\.conf:3: door \[a\] already defined at \/etc\/knockd\.conf:3/);
    return true;
  });
});

test('a drop-in holds doors only', () => {
  assert.throws(() => parseConfig('[options]\n  LogFile = /x\n', '/d/x.conf', { dropIn: true }), /\[options\] belongs in the main configuration/);
  assert.throws(() => parseConfig(`${door('a', 7000)}UseSyslog\n`, '/d/x.conf', { dropIn: true }), /UseSyslog belongs in the main configuration/);
  assert.throws(() => parseConfig(`${door('a', 7000)}  Include = /d/*.conf\n`, '/d/x.conf', { dropIn: true }), /unknown key "Include"/);
});

test('several Include lines are kept with their lines; a bad one is refused at its line', () => {
  const parsed = parseConfig('[options]\n  Include = /a/*.conf\n  Include = /b/x.conf\n', '/etc/knockd.conf');
  assert.deepEqual(parsed.includes, [{ pattern: '/a/*.conf', line: 2 }, { pattern: '/b/x.conf', line: 3 }]);
  assert.throws(() => parseConfig('[options]\n  Include = doors.d/*.conf\n', '/etc/knockd.conf'), described(/knockd\.conf:2: Include must be an absolute path/));
});

test('loadConfig reads drop-ins in lexical order, each checked with its own file:line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-include-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dropDir = join(dir, 'doors.d');
  await mkdir(dropDir);
  const main = join(dir, 'knockd.conf');
  await writeFile(main, `[options]\n  Include = ${dropDir}/*.conf\n  Include = ${dropDir}/10-*.conf\n${door('main', 7000)}`, { mode: 0o600 });
  await writeFile(join(dropDir, '20-web.conf'), door('web', 7200), { mode: 0o600 });
  await writeFile(join(dropDir, '10-db.conf'), `# database\n${door('db', 7100)}  tcpflags = syn\n`, { mode: 0o600 });
  await writeFile(join(dropDir, 'README'), 'not a drop-in', { mode: 0o600 });

  const config = await loadConfig(main);
  assert.deepEqual(config.doors.map((d) => [d.name, d.file]), [['main', undefined], ['db', join(dropDir, '10-db.conf')], ['web', join(dropDir, '20-web.conf')]]);
  const report = formatCheckReport(checkConfig(config, { listening: [] }));
  assert.match(report, new RegExp(`${join(dropDir, '20-web.conf')}:1: note: \\[web\\]`), 'a drop-in door is reported at its own file');

  await writeFile(join(dropDir, '30-broken.conf'), `${door('broken', 7300)}  sequence_length = 4\n  cmd_timeout = soon\n`, { mode: 0o600 });
  await assert.rejects(loadConfig(main), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => `${p.file}:${p.line}`), [`${dropDir}/30-broken.conf:4`, `${dropDir}/30-broken.conf:5`]);
    return true;
  });
  await rm(join(dropDir, '30-broken.conf'));
  await writeFile(join(dropDir, '40-dup.conf'), door('web', 7400), { mode: 0o600 });
  await assert.rejects(loadConfig(main), described(new RegExp(`40-dup\\.conf:1: door \\[web\\] already defined at ${dropDir}/20-web\\.conf:1`)));
  await rm(join(dropDir, '40-dup.conf'));

  await writeFile(main, `[options]\n  Include = ${dir}/missing.d/*.conf\n`, { mode: 0o600 });
  await assert.rejects(loadConfig(main), described(/knockd\.conf:2: Include: cannot read directory .*missing\.d: ENOENT/));
});
