/**
 * The contract Ansible's `validate:` and Puppet's `validate_cmd` rely on (issue 16): `nfknock check -c`
 * runs as an unprivileged user, in a namespace with no route anywhere and no firewall, and exits 0 for
 * a config (with drop-ins) the daemon would run, 78 with file:line for one it would refuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, e2eGate } from '../helpers/lab.js';
import { removeDir } from '../helpers/daemon-lab.js';
import { nobodyReadablePath } from '../helpers/nobody-copy.js';
import { SEED, serviceDoor } from '../helpers/hardening-lab.js';

const gate = e2eGate({ tools: ['runuser'] });

test('check -c validates a config and its drop-ins as nobody, offline, without a firewall', { skip: gate.skip, timeout: 30_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-valid', ipv6: false });
  t.after(() => lab.destroy());
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-e2e-'));
  t.after(() => removeDir(dir));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'doors.d'), { mode: 0o755 });
  const main = join(dir, 'knockd.conf');
  await writeFile(main, `[options]\n    Include = ${dir}/doors.d/*.conf\n`, { mode: 0o644 });
  await writeFile(join(dir, 'doors.d', 'web.conf'), serviceDoor('web', SEED.join(',')), { mode: 0o644 });
  const check = () => lab.exec('client', ['runuser', '-u', 'nobody', '--', process.execPath, nobodyReadablePath('dist/src/cli/nfknock.js'), 'check', '-c', main]);

  const good = await check();
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /\[web\]/);
  await writeFile(join(dir, 'doors.d', 'web.conf'), `${serviceDoor('web', SEED.join(','))}    sequence = 7000\n`, { mode: 0o644 });
  const bad = await check();
  assert.equal(bad.code, 78, bad.stdout);
  assert.match(bad.stderr, new RegExp(`${dir}/doors\\.d/web\\.conf:7: Sequence already set on line 2`));
});
