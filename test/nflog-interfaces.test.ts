import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterfaceNames } from '../src/sources/nflog-interfaces.js';
import { fakeSysClassNet } from './helpers/fake-sys-class-net.js';

test('indexes are named from /sys, read again for an unknown index at most once a second; a vanished interface is not named', () => {
  const dir = fakeSysClassNet({ lo: 1, eth0: 2 });
  try {
    let now = 0;
    const names = new InterfaceNames({ now: () => now }, dir);
    assert.equal(names.nameOf(2), 'eth0');
    assert.equal(names.nameOf(2), 'eth0');
    assert.equal(names.nameOf(1), 'lo');
    assert.equal(names.nameOf(0), undefined);
    // eth0 is re-created as index 3: the old index still names it until a refresh is due.
    rmSync(join(dir, 'eth0'), { recursive: true });
    mkdirSync(join(dir, 'eth1'));
    writeFileSync(join(dir, 'eth1', 'ifindex'), '3\n');
    assert.equal(names.nameOf(2), 'eth0');
    now += 1000;
    // An index no table knows triggers the refresh, which drops index 2 although it was the last one named.
    assert.equal(names.nameOf(9), undefined);
    assert.equal(names.nameOf(2), undefined);
    assert.equal(names.nameOf(3), 'eth1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
