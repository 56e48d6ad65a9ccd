import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nfknockdPath } from './helpers/daemon-lab.js';

test('nfknockd refuses a broken config before anything runs, naming file, line and text', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-broken-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'knockd.conf');
  const marker = join(dir, 'ran');
  await writeFile(config, ['[openSSH]', '    sequence = 7000,notaport,9000', `    command = touch ${marker}`, ''].join('\n'));
  const result = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', join(dir, 'state')], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 78, `EX_CONFIG; stderr: ${result.stderr}`);
  // The bad text itself, quoted, not just somewhere on the line.
  assert.match(result.stderr, new RegExp(`${config.replaceAll('/', '\\/')}:2: .*: "notaport"$`, 'm'));
  assert.doesNotMatch(result.stdout, /starting up/);
});

test('nfknockd: an unknown flag is a usage error (64), a missing config file 66', () => {
  assert.equal(spawnSync(process.execPath, [nfknockdPath, '--bogus'], { encoding: 'utf8' }).status, 64);
  assert.equal(spawnSync(process.execPath, [nfknockdPath, '-c', '/nonexistent/knockd.conf'], { encoding: 'utf8' }).status, 66);
});
