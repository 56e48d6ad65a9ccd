import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClientHost } from '../src/client/client-config-load.js';
import { loadHostIfConfigured } from '../src/client/command.js';
import { ConfigError } from '../src/config/problems.js';
import { isNfknockError } from '../src/core/errors.js';
import { decodeBase32 } from '../src/timeseq/base32.js';

const SECRET_TEXT = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nfknock-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const secret = join(dir, 'ssh.secret');
  await writeFile(secret, `${SECRET_TEXT}\n`, { mode: 0o600 });
  const conf = join(dir, 'client.conf');
  const text = ['[fixed]', 'Address = 10.0.0.1', 'Sequence = 1,2:udp', '', '[rot]', 'Address = 10.0.0.1', `Sequence_Secret = @${secret}`, 'Sequence_Ports = 41000-41999', ''].join('\n');
  await writeFile(conf, text, { mode: 0o644 });
  return { dir, secret, conf };
}

test('an alias is loaded from -F FILE with its secret; an unknown name is undefined', async (t) => {
  const { conf } = await fixture(t);
  const fixed = await loadClientHost(conf, 'fixed', {});
  assert.deepEqual(fixed?.steps, [
    { port: 1, protocol: 'tcp' },
    { port: 2, protocol: 'udp' },
  ]);
  const rot = await loadClientHost(conf, 'rot', {});
  assert.deepEqual(rot?.timeSequence?.secret, decodeBase32(SECRET_TEXT));
  assert.equal(await loadClientHost(conf, 'gw.example.org', {}), undefined);
});

test('the default client config is found through XDG_CONFIG_HOME, and its absence is not an error', async (t) => {
  const { dir, conf } = await fixture(t);
  await mkdir(join(dir, 'nfknock'));
  await writeFile(join(dir, 'nfknock', 'client.conf'), '[x]\nAddress = h\nSequence = 5\n', { mode: 0o600 });
  assert.deepEqual((await loadClientHost(undefined, 'x', { XDG_CONFIG_HOME: dir }))?.steps, [{ port: 5, protocol: 'tcp' }]);
  assert.equal(await loadClientHost(undefined, 'x', { XDG_CONFIG_HOME: join(dir, 'none') }), undefined);
  await assert.rejects(loadClientHost(join(dir, 'missing.conf'), 'x', {}), (e: unknown) => isNfknockError(e) && e.code === 'NFK_CONFIG_READ');
  assert.ok(conf);
});

test('a secret file group/other can read is refused like the server does, at the config line', async (t) => {
  const { conf, secret } = await fixture(t);
  await chmod(secret, 0o640);
  await assert.rejects(loadClientHost(conf, 'rot', {}), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems[0]?.line, 7);
    assert.match(e.describe(), /secret file .* can be read by group\/other \(mode 0640\)/);
    return true;
  });
  // Another alias of the same file does not need that secret.
  assert.ok(await loadClientHost(conf, 'fixed', {}));
});

test('a client config group/other can write is refused; a bad entry anywhere is a file:line error', async (t) => {
  const { conf, dir } = await fixture(t);
  await chmod(conf, 0o666);
  await assert.rejects(loadClientHost(conf, 'fixed', {}), (e: unknown) => isNfknockError(e) && e.code === 'NFK_UNTRUSTED' && /can be written by group\/other .*chmod 600/.test(e.message));
  const bad = join(dir, 'bad.conf');
  await writeFile(bad, '[fixed]\nAddress = h\nSequence = 1\n[other]\nAddress = h\nSequence = 0\n', { mode: 0o600 });
  await assert.rejects(loadClientHost(bad, 'fixed', {}), (e: unknown) => e instanceof ConfigError && e.describe().startsWith(`${bad}:6: [other]: Sequence:`));
});

test('the knock command loads the client config only when one exists, and then with every check of loadClientHost', async (t) => {
  const { dir } = await fixture(t);
  await mkdir(join(dir, 'nfknock'));
  const defaultConf = join(dir, 'nfknock', 'client.conf');
  assert.equal(await loadHostIfConfigured(undefined, 'x', { XDG_CONFIG_HOME: dir }), undefined, 'no default config: no alias, no error');
  assert.equal(await loadHostIfConfigured(undefined, 'x', {}), undefined, 'no HOME: no default config');
  // A dangling symlink is there (lstat sees it): refused by the loader as before, not taken for an absent file.
  await symlink(join(dir, 'nowhere'), defaultConf);
  await assert.rejects(loadHostIfConfigured(undefined, 'x', { XDG_CONFIG_HOME: dir }), (e: unknown) => isNfknockError(e));
  await rm(defaultConf);
  await writeFile(defaultConf, '[x]\nAddress = h\nSequence = 5\n', { mode: 0o600 });
  assert.deepEqual((await loadHostIfConfigured(undefined, 'x', { XDG_CONFIG_HOME: dir }))?.steps, [{ port: 5, protocol: 'tcp' }]);
  await assert.rejects(loadHostIfConfigured(join(dir, 'missing.conf'), 'x', {}), (e: unknown) => isNfknockError(e) && e.code === 'NFK_CONFIG_READ');
});
