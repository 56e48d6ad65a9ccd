/** Issue 10, Build item 8: nfknockd's flags are checked exactly like the config keys they override. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergeFlags, type DaemonFlags } from '../src/daemon/options.js';
import { parseConfig } from '../src/config/parse.js';
import { defaultOptions, type Config } from '../src/core/types.js';
import { isNfknockError } from '../src/core/errors.js';

const base: Config = { file: '/etc/knockd.conf', options: { ...defaultOptions }, doors: [] };

const PAIRS: [keyof DaemonFlags, string][] = [
  ['interface', 'Interface'],
  ['logfile', 'LogFile'],
  ['pidfile', 'PidFile'],
  ['source', 'Source'],
  ['nflogGroup', 'NflogGroup'],
  ['prefix', 'LogPrefix'],
  ['stateDir', 'StateDir'],
  ['kernelLog', 'KernelLog'],
  ['maxAttempts', 'MaxAttempts'],
];

function flagAccepts(flag: keyof DaemonFlags, value: string): boolean {
  try {
    mergeFlags(base, { config: '/etc/knockd.conf', [flag]: value, ...(flag === 'source' ? { kernelLog: '/k' } : {}) });
    return true;
  } catch (error) {
    assert.ok(isNfknockError(error) && error.code === 'NFK_USAGE', String(error));
    return false;
  }
}

function configAccepts(key: string, value: string): boolean {
  try {
    parseConfig(`[options]\n${key} = ${value}\n${key === 'Source' ? 'KernelLog = /k\n' : ''}`, '/etc/knockd.conf');
    return true;
  } catch {
    return false;
  }
}

test('the flags refuse what the config refuses: relative paths, long prefixes, bad interface names', () => {
  for (const [flag, value] of [['logfile', 'knockd.log'], ['pidfile', 'run/pid'], ['stateDir', 'state'], ['kernelLog', 'kern'], ['prefix', 'x'.repeat(30)], ['prefix', 'port knock'], ['interface', 'eth0; rm -rf /'], ['interface', 'a'.repeat(16)], ['nflogGroup', '65536'], ['maxAttempts', '0']] as const) {
    assert.equal(flagAccepts(flag, value), false, `--${flag} ${value}`);
  }
  assert.equal(flagAccepts('prefix', 'x'.repeat(29)), true);
});

test('property: a flag accepts a value exactly when its config key does', () => {
  const value = fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^\/?[a-z0-9.@:_+-]{0,20}$/), fc.integer({ min: -5, max: 20_000_000 }).map(String));
  fc.assert(
    fc.property(fc.constantFrom(...PAIRS), value, ([flag, key], text) => {
      // The config trims values and has no empty Interface/LogFile (empty means "not set" there).
      fc.pre(text.trim() === text && text !== '' && !/[\n\r\u0000=#[]/.test(text));
      assert.equal(flagAccepts(flag, text), configAccepts(key, text), `--${flag} ${JSON.stringify(text)} vs ${key}`);
    }),
    { numRuns: 500 },
  );
});
