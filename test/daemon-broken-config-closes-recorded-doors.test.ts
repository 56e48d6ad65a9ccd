import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeState } from '../src/state/state-format.js';
import { STATE_FILE_NAME } from '../src/state/state-store.js';
import { nfknockdPath } from './helpers/daemon-lab.js';
import { stateDirOf } from '../src/config/lenient-state-dir.js';

test('a broken config at start closes the doors the state dir records, then exits with the config error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-recover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  await mkdir(stateDir, { mode: 0o700 });
  const marker = join(dir, 'closed');
  const now = Date.now();
  await writeFile(
    join(stateDir, STATE_FILE_NAME),
    serializeState([{ id: 'a1', door: 'openSSH', source: '10.0.0.2', family: 4, stopCommand: `echo 10.0.0.2 >> ${marker}`, openedAt: now, closesAt: now + 3_600_000 }]),
    { mode: 0o600 },
  );
  const config = join(dir, 'knockd.conf');
  await writeFile(config, '[openSSH]\n    sequence = 7000,notaport\n    command = true\n');
  const result = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', stateDir], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(result.status, 78, result.stderr);
  assert.equal(await readFile(marker, 'utf8'), '10.0.0.2\n', 'the recorded door was closed');
  assert.doesNotMatch(await readFile(join(stateDir, STATE_FILE_NAME), 'utf8'), /10\.0\.0\.2/, 'and forgotten');
});

test('issue 13: a broken config also removes the kernel entries of recorded Open = doors (nft run without a shell)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-recover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const bin = join(dir, 'bin');
  await mkdir(stateDir, { mode: 0o700 });
  await mkdir(bin);
  const marker = join(dir, 'nft-calls');
  // A stand-in nft on PATH records its arguments: the removal must reach it as argv, one process.
  await writeFile(join(bin, 'nft'), `#!/bin/sh\necho "$*" >> ${marker}\n`);
  await chmod(join(bin, 'nft'), 0o755);
  const now = Date.now();
  const open = { firewall: 'nft' as const, ports: [{ protocol: 'tcp' as const, from: 2222, to: 2222 }] };
  await writeFile(join(stateDir, STATE_FILE_NAME), serializeState([{ id: 'a1', door: 'ssh', source: '10.0.0.2', family: 4, open, openedAt: now, closesAt: now + 3_600_000 }]), { mode: 0o600 });
  const config = join(dir, 'knockd.conf');
  await writeFile(config, '[ssh]\n    sequence = 7000,notaport\n    Open = 2222\n    cmd_timeout = 5\n');
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
  const result = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', stateDir], { encoding: 'utf8', timeout: 15_000, env });
  assert.equal(result.status, 78, result.stderr);
  const element = '{ 10.0.0.2 . tcp . 2222 }';
  assert.equal(await readFile(marker, 'utf8'), `add element inet nfknock open4 ${element} ; delete element inet nfknock open4 ${element}\n`);
  assert.doesNotMatch(await readFile(join(stateDir, STATE_FILE_NAME), 'utf8'), /10\.0\.0\.2/, 'and forgotten');
});

test('issue 10 finding 5: a broken config closes the doors of the StateDir it names, and touches no other directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-recover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const named = join(dir, 'named');
  const other = join(dir, 'other');
  const marker = join(dir, 'closed');
  const now = Date.now();
  for (const [stateDir, source] of [[named, '10.0.0.2'], [other, '10.0.0.3']] as const) {
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(
      join(stateDir, STATE_FILE_NAME),
      serializeState([{ id: 'a1', door: 'openSSH', source, family: 4, stopCommand: `echo ${source} >> ${marker}`, openedAt: now, closesAt: now + 3_600_000 }]),
      { mode: 0o600 },
    );
  }
  const config = join(dir, 'knockd.conf');
  // Broken (a bad port), but its StateDir is still readable.
  await writeFile(config, `[options]\n    StateDir = ${named}\n[openSSH]\n    sequence = 7000,notaport\n    command = true\n`);
  const result = spawnSync(process.execPath, [nfknockdPath, '-c', config], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(result.status, 78, result.stderr);
  assert.equal(await readFile(marker, 'utf8'), '10.0.0.2\n', 'the door of the named StateDir was closed, no other');
  assert.match(await readFile(join(other, STATE_FILE_NAME), 'utf8'), /10\.0\.0\.3/, 'the other directory is untouched');
});

test('stateDirOf reads StateDir leniently from a broken config', () => {
  assert.equal(stateDirOf('[options]\n  statedir = /srv/nfk\n[d]\nsequence = x\n'), '/srv/nfk');
  assert.equal(stateDirOf('[d]\nStateDir = /not/options\n'), '/var/lib/nfknock');
  assert.equal(stateDirOf('[options]\nStateDir = relative\n'), undefined);
  assert.equal(stateDirOf('\u0000garbage'), '/var/lib/nfknock');
});
