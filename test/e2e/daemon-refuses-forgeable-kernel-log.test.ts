import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eGate, withNfLogAllNetns } from '../helpers/lab.js';
import { nfknockdPath, seedDoorConf } from '../helpers/daemon-lab.js';

const gate = e2eGate();

test('with nf_log_all_netns = 1 the kernel-log sources refuse to start (any user namespace could forge knocks)', { skip: gate.skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-netnslog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'knockd.conf');
  await writeFile(config, seedDoorConf());
  const restore = withNfLogAllNetns();
  t.after(restore);
  for (const source of [['--source', 'kmsg'], ['--source', 'file', '--kernel-log', join(dir, 'kernel.log')]]) {
    const result = spawnSync(process.execPath, [nfknockdPath, '-c', config, '--state-dir', join(dir, 'state'), ...source], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 69, result.stderr);
    assert.match(result.stderr, /nf_log_all_netns is 1/);
  }
});
