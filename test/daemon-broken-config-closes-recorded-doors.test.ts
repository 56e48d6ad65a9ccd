import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeState } from '../src/state/state-format.js';
import { STATE_FILE_NAME } from '../src/state/state-store.js';
import { nfknockdPath } from './helpers/daemon-lab.js';

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
