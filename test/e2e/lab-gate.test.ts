/**
 * The e2e gate: skip with a reason on a developer's machine, fail in CI (NFKNOCK_E2E=required) when
 * the e2e tests cannot run, so CI can never pass with every e2e test silently skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { e2eGate, rootSkipReason } from '../helpers/lab.js';
import { nobodyReadablePath } from '../helpers/nobody-copy.js';

const isRoot = process.getuid?.() === 0;

function withE2eSetting<T>(value: string | undefined, body: () => T): T {
  const saved = process.env['NFKNOCK_E2E'];
  if (value === undefined) delete process.env['NFKNOCK_E2E'];
  else process.env['NFKNOCK_E2E'] = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env['NFKNOCK_E2E'];
    else process.env['NFKNOCK_E2E'] = saved;
  }
}

/** e2eGate() as seen by an unprivileged process: as root, a child drops to nobody first. */
function gateAsNobody(setting: string | undefined): { skip?: string | false; error?: string } {
  const helper = pathToFileURL(nobodyReadablePath('dist/test/helpers/lab.js')).href;
  const script = [
    'process.setgid(65534);',
    'process.setuid(65534);',
    `const { e2eGate } = await import(${JSON.stringify(helper)});`,
    'try { console.log(JSON.stringify(e2eGate())); } catch (error) { console.log(JSON.stringify({ error: error.message })); }',
  ].join('\n');
  const env = { ...process.env };
  if (setting === undefined) delete env['NFKNOCK_E2E'];
  else env['NFKNOCK_E2E'] = setting;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, cwd: tmpdir() });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as { skip?: string | false; error?: string };
}

test('without root the e2e tests skip, saying why and how to run them', () => {
  const gate = isRoot ? gateAsNobody(undefined) : withE2eSetting(undefined, () => e2eGate());
  assert.equal(gate.skip, rootSkipReason);
  assert.match(rootSkipReason, /needs root for network namespaces.*NFKNOCK_E2E=required/);
});

test('without root and NFKNOCK_E2E=required the gate throws, so the test file fails', () => {
  if (isRoot) {
    assert.match(gateAsNobody('required').error ?? '', /NFKNOCK_E2E=required.*needs root/);
  } else {
    assert.throws(() => withE2eSetting('required', () => e2eGate()), /NFKNOCK_E2E=required.*needs root/);
  }
});

test('a missing tool skips with the exact install command, or fails when required', { skip: isRoot ? false : 'root gate comes first' }, () => {
  const gate = withE2eSetting(undefined, () => e2eGate({ tools: ['knockd', 'nfkf-no-such-tool'] }));
  assert.equal(gate.skip, 'missing system tools: nfkf-no-such-tool (install with: apt-get install nfkf-no-such-tool)');
  assert.throws(
    () => withE2eSetting('required', () => e2eGate({ tools: ['nfkf-no-such-tool'] })),
    (error: Error & { code?: string }) => error.code === 'NFK_MISSING_TOOL' && /apt-get install nfkf-no-such-tool/.test(error.message),
  );
});

test('with root and the tools present the gate lets the tests run', { skip: isRoot ? false : 'needs root' }, () => {
  assert.deepEqual(withE2eSetting('required', () => e2eGate()), { skip: false });
});
