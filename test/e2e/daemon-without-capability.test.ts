import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eGate } from '../helpers/lab.js';
import { seedDoorConf } from '../helpers/daemon-lab.js';
import { nobodyReadablePath } from '../helpers/nobody-copy.js';

const gate = e2eGate({ tools: ['setpriv'] });

test('without CAP_NET_ADMIN nfknockd exits 77 and names the capability', { skip: gate.skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-nocap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'knockd.conf');
  await writeFile(config, seedDoorConf(), { mode: 0o644 });
  await chown(dir, 65534, 65534);
  const result = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, nobodyReadablePath('dist/src/cli/nfknockd.js'), '-c', config, '--state-dir', join(dir, 'state')],
    { encoding: 'utf8', timeout: 15_000, cwd: dir },
  );
  assert.equal(result.status, 77, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.match(result.stderr, /CAP_NET_ADMIN/);
});
