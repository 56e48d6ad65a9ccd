import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCall, listCall, putCall, removalDone, removeCall } from '../src/firewall/operations.js';
import type { DoorOpening } from '../src/core/types.js';

const ssh: DoorOpening = { firewall: 'nft', ports: [{ protocol: 'tcp', from: 22, to: 22 }] };
const two: DoorOpening = { firewall: 'nft', ports: [{ protocol: 'tcp', from: 22, to: 22 }, { protocol: 'udp', from: 60000, to: 61000 }] };

test('nft: open and renew are one batch: add, delete, add with the timeout (kernels before 6.12 cannot renew a timeout)', () => {
  const call = putCall(ssh, '10.0.0.2', 4, 5);
  assert.equal(call.input, undefined);
  assert.deepEqual(call.argv, [
    'nft', 'add', 'element', 'inet', 'nfknock', 'open4', '{ 10.0.0.2 . tcp . 22 }',
    ';', 'delete', 'element', 'inet', 'nfknock', 'open4', '{ 10.0.0.2 . tcp . 22 }',
    ';', 'add', 'element', 'inet', 'nfknock', 'open4', '{ 10.0.0.2 . tcp . 22 timeout 5s }',
  ]);
  assert.match(describeCall(putCall(two, 'fd00::2', 6, 30)), /^nft add element inet nfknock open6 \{ fd00::2 \. tcp \. 22, fd00::2 \. udp \. 60000-61000 \} ; delete .* ; add element inet nfknock open6 \{ fd00::2 \. tcp \. 22 timeout 30s, fd00::2 \. udp \. 60000-61000 timeout 30s \}$/);
});

test('nft: removal is add then delete, so an element that already expired is no error', () => {
  assert.equal(describeCall(removeCall(ssh, '10.0.0.2', 4)), 'nft add element inet nfknock open4 { 10.0.0.2 . tcp . 22 } ; delete element inet nfknock open4 { 10.0.0.2 . tcp . 22 }');
});

test('ipset: one port is one add/del with -exist; several go through one ipset restore', () => {
  const one: DoorOpening = { firewall: 'ipset', ports: [{ protocol: 'tcp', from: 2222, to: 2222 }] };
  assert.deepEqual(putCall(one, '10.0.0.2', 4, 5).argv, ['ipset', 'add', 'nfknock-open4', '10.0.0.2,tcp:2222', 'timeout', '5', '-exist']);
  assert.deepEqual(removeCall(one, 'fd00::2', 6).argv, ['ipset', 'del', 'nfknock-open6', 'fd00::2,tcp:2222', '-exist']);
  const many = putCall({ ...two, firewall: 'ipset' }, '10.0.0.2', 4, 7);
  assert.deepEqual(many.argv, ['ipset', '-exist', 'restore']);
  assert.equal(many.input, 'add nfknock-open4 10.0.0.2,tcp:22 timeout 7\nadd nfknock-open4 10.0.0.2,udp:60000-61000 timeout 7\n');
  assert.equal(describeCall(many), 'ipset -exist restore <<< add nfknock-open4 10.0.0.2,tcp:22 timeout 7; add nfknock-open4 10.0.0.2,udp:60000-61000 timeout 7');
});

test('a kernel timeout is whole seconds >= 1', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => putCall(ssh, '10.0.0.2', 4, bad), RangeError);
});

test('a removal counts as done on success or when the set itself is gone, never on a timeout or spawn failure', () => {
  const outcome = (exitCode: number | null, stderr = '', timedOut = false) => ({ exitCode, stderr, timedOut });
  assert.equal(removalDone('nft', outcome(0)), true);
  assert.equal(removalDone('nft', outcome(1, 'Error: Could not process rule: No such file or directory')), true);
  assert.equal(removalDone('nft', outcome(1, 'Error: Could not process rule: Operation not permitted')), false);
  assert.equal(removalDone('nft', outcome(1, 'Error: Could not process rule: File exists')), true, 'an overlapping element of another door: ours is not there');
  assert.equal(removalDone('ipset', outcome(1, 'ipset v7.17: The set with the given name does not exist')), true);
  assert.equal(removalDone('ipset', outcome(1, 'ipset v7.17: Kernel error received: Operation not permitted')), false);
  assert.equal(removalDone('nft', outcome(0, '', true)), false);
  assert.equal(removalDone('nft', outcome(null, 'No such file or directory')), false);
});

test('listing calls name nfknock\'s sets', () => {
  assert.deepEqual(listCall('nft', 6).argv, ['nft', '-j', 'list', 'set', 'inet', 'nfknock', 'open6']);
  assert.deepEqual(listCall('ipset', 4).argv, ['ipset', 'save', 'nfknock-open4']);
});

test('NftTable: calls and listings name the host\'s inet table instead of nfknock\'s', () => {
  const own: DoorOpening = { ...ssh, table: 'filter' };
  assert.match(describeCall(putCall(own, '10.0.0.2', 4, 5)), /^nft add element inet filter open4 .* ; delete element inet filter open4 .* ; add element inet filter open4 /);
  assert.match(describeCall(removeCall(own, '10.0.0.2', 4)), /^nft add element inet filter open4 .* ; delete element inet filter open4 /);
  assert.deepEqual(listCall('nft', 4, 'filter').argv, ['nft', '-j', 'list', 'set', 'inet', 'filter', 'open4']);
});
