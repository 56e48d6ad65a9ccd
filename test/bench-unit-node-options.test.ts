import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { nodeOptionsOfUnit } from '../scripts/bench/unit-node-options.js';
import { repoFile } from './helpers/repo-file.js';

test('the bench reads NODE_OPTIONS from the unit: plain, quoted among other assignments, the last one wins', () => {
  assert.equal(nodeOptionsOfUnit('[Service]\nEnvironment=NODE_OPTIONS=--max-semi-space-size=2\n'), '--max-semi-space-size=2');
  assert.equal(nodeOptionsOfUnit('Environment=A=1 "NODE_OPTIONS=--a=1 --b" C=3\n'), '--a=1 --b');
  assert.equal(nodeOptionsOfUnit('Environment=NODE_OPTIONS=--a\nEnvironment=NODE_OPTIONS=--b\n'), '--b');
  assert.equal(nodeOptionsOfUnit('[Service]\nExecStart=/usr/sbin/nfknockd\n'), '');
  assert.equal(nodeOptionsOfUnit('# Environment=NODE_OPTIONS=--x\n'), '');
});

test('every flag the shipped unit puts in NODE_OPTIONS is one node accepts there (node refuses to start otherwise)', () => {
  const options = nodeOptionsOfUnit(readFileSync(repoFile('systemd/nfknockd.service'), 'utf8'));
  assert.notEqual(options, '', 'the unit sets NODE_OPTIONS');
  const run = spawnSync(process.execPath, ['-e', '0'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: options } });
  assert.equal(run.status, 0, run.stderr);
});
