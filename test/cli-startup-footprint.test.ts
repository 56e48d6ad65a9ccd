import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = (name: string) => fileURLToPath(new URL(`../src/cli/${name}`, import.meta.url));

/** The builtin modules a command loaded, as process.moduleLoadList lists them when it exits. */
function builtinsLoadedBy(args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nfknock-startup-'));
  try {
    const report = join(dir, 'report.cjs');
    const out = join(dir, 'modules.txt');
    writeFileSync(report, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
    const run = spawnSync(process.execPath, ['--require', report, ...args], { encoding: 'utf8', env: { ...env, NODE_OPTIONS: '' } });
    assert.equal(run.status, 0, run.stderr);
    return readFileSync(out, 'utf8').split('\n').filter((line) => line.startsWith('NativeModule ')).map((line) => line.slice('NativeModule '.length));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('nfknockd --help and --version load none of the daemon: no node:crypto (the trust code), no node:v8', () => {
  for (const flag of ['--help', '--version']) {
    const loaded = builtinsLoadedBy([cli('nfknockd.js'), flag]);
    assert.ok(loaded.includes('fs'), 'the report lists builtins');
    assert.ok(!loaded.includes('crypto'), `${flag} loaded node:crypto`);
    assert.ok(!loaded.includes('v8'), `${flag} loaded node:v8`);
  }
});
