import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFirewallReady, readKernelView, type ProgramRunner } from '../src/firewall/kernel-edge.js';
import { parseConfig } from '../src/config/parse.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import type { CommandResult } from '../src/runner/shell.js';

const result = (overrides: Partial<CommandResult>): CommandResult => ({ exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', outputTruncated: false, durationMs: 1, spawnError: null, ...overrides });
const runner = (answer: (argv: readonly string[]) => Partial<CommandResult>): { run: ProgramRunner; calls: string[] } => {
  const calls: string[] = [];
  return { calls, run: async (argv) => (calls.push(argv.join(' ')), result(answer(argv))) };
};
const config = (firewall: string) => parseConfig(`[options]\nFirewall = ${firewall}\n[ssh]\nsequence = 1,2,3\nOpen = 22\ncmd_timeout = 5\n`, 'k.conf');
const nftSet = '{"nftables": [{"set": {"family": "inet", "name": "open4", "table": "nfknock", "flags": ["interval", "timeout"], "elem": [{"elem": {"val": {"concat": ["10.0.0.2", "tcp", 22]}, "timeout": 5, "expires": 3}}]}}]}';

test('the start-time check lists both sets and passes when they hold timeouts', async () => {
  const { run, calls } = runner(() => ({ stdout: nftSet }));
  await checkFirewallReady(config('nft'), run);
  assert.deepEqual(calls, ['nft -j list set inet nfknock open4', 'nft -j list set inet nfknock open6']);
  const none = runner(() => ({}));
  await checkFirewallReady(parseConfig('[ssh]\nsequence = 1,2,3\ncommand = x\n', 'k.conf'), none.run);
  assert.deepEqual(none.calls, [], 'no Open door, no check');
});

test('a missing tool, a missing set, or a set without timeouts stops the start with the command that fixes it', async () => {
  const refuses = async (firewall: string, answer: Partial<CommandResult>, code: string, fix: RegExp) =>
    assert.rejects(checkFirewallReady(config(firewall), runner(() => answer).run), (error: NfknockError) => error.code === code && fix.test(error.message));
  await refuses('nft', { exitCode: null, spawnError: 'spawn nft ENOENT' }, ErrorCodes.MISSING_TOOL, /apt-get install nftables/);
  await refuses('ipset', { exitCode: null, spawnError: 'spawn ipset ENOENT' }, ErrorCodes.MISSING_TOOL, /apt-get install ipset/);
  await refuses('nft', { exitCode: 1, stderr: 'Error: No such file or directory\nlist set inet nfknock open4' }, ErrorCodes.FIREWALL_UNAVAILABLE, /No such file or directory\): .*nfknock rules --format nft/);
  await refuses('ipset', { exitCode: 1, stderr: 'ipset v7.17: The set with the given name does not exist' }, ErrorCodes.FIREWALL_UNAVAILABLE, /ipset restore -exist < /);
  await refuses('nft', { stdout: nftSet.replace('"interval", "timeout"', '"interval"') }, ErrorCodes.FIREWALL_UNAVAILABLE, /without timeouts/);
  await refuses('ipset', { stdout: 'create nfknock-open4 hash:ip,port family inet hashsize 1024 maxelem 65536\n' }, ErrorCodes.FIREWALL_UNAVAILABLE, /without timeouts/);
});

test('the kernel view reads both families, or says why it cannot', async () => {
  const view = await readKernelView('nft', runner(() => ({ stdout: nftSet })).run);
  assert.equal(view.available && view.entries.length, 2);
  const missing = await readKernelView('ipset', runner(() => ({ exitCode: null, spawnError: 'ENOENT' })).run);
  assert.deepEqual(missing, { firewall: 'ipset', available: false, reason: 'ipset is not installed' });
  const own = runner(() => ({ stdout: nftSet }));
  await readKernelView('nft', own.run, 'filter');
  assert.equal(own.calls[0], 'nft -j list set inet filter open4');
});
