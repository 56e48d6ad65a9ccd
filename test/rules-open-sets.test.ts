import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/parse.js';
import { generateRules, type RulesOptions } from '../src/rules/generate.js';
import { nftOwnTableRules } from '../src/rules/own-table.js';
import { checkOpening } from '../src/firewall/opening-record.js';
import { withFirewall } from '../src/firewall/open-ports.js';

const config = parseConfig('[options]\nFirewall = ipset\n[ssh]\nsequence = 7000,8000,9000\nOpen = 2222\ncmd_timeout = 5\n', 'k.conf');
const base: RulesOptions = { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: true, format: 'iptables' };

test('--format ipset: the ipset restore file with both sets, entries carrying their own timeouts', () => {
  const lines = generateRules(config, { ...base, format: 'ipset' }).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  assert.deepEqual(lines, ['create nfknock-open4 hash:ip,port family inet timeout 0', 'create nfknock-open6 hash:ip,port family inet6 timeout 0']);
});

test('iptables output accepts the ipsets (complete: after the INVALID drop; fragment: in the knock chain) only when asked', () => {
  const complete = generateRules(config, { ...base, openSets: true }).split('\n');
  const invalid = complete.indexOf('-A INPUT -m conntrack --ctstate INVALID -j DROP');
  assert.equal(complete[invalid + 2], '-A INPUT -m set --match-set nfknock-open4 src,dst -j ACCEPT');
  assert.ok(generateRules(config, { ...base, family: 6, openSets: true }).includes('-A INPUT -m set --match-set nfknock-open6 src,dst -j ACCEPT'));
  assert.match(generateRules(config, { ...base, complete: false, openSets: true }), /-A NFKNOCK -m set --match-set nfknock-open4 src,dst -j ACCEPT\nCOMMIT/);
  assert.doesNotMatch(generateRules(config, base), /match-set/, 'without ipsets the file must not need them to load');
});

test('--own-table: the sets and accept rules for the host\'s table', () => {
  assert.deepEqual(nftOwnTableRules('filter', 'input').split('\n').filter((line) => line !== '' && !line.startsWith('#')), [
    'add set inet filter open4 { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }',
    'add set inet filter open6 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; }',
    'insert rule inet filter input ip saddr . meta l4proto . th dport @open4 accept',
    'insert rule inet filter input ip6 saddr . meta l4proto . th dport @open6 accept',
  ]);
});

test('NftTable binds nft Open doors to the host\'s table, and the record keeps it', () => {
  const nft = parseConfig('[options]\nNftTable = filter\n[ssh]\nsequence = 7000,8000,9000\nOpen = 2222\ncmd_timeout = 5\n', 'k.conf');
  assert.deepEqual(nft.doors[0]?.open, { firewall: 'nft', ports: [{ protocol: 'tcp', from: 2222, to: 2222 }], table: 'filter' });
  assert.deepEqual(checkOpening(nft.doors[0]?.open), nft.doors[0]?.open);
  assert.equal(typeof checkOpening({ ...nft.doors[0]?.open, table: 'bad table; flush ruleset' }), 'string');
  assert.equal(typeof checkOpening({ firewall: 'ipset', ports: [{ protocol: 'tcp', from: 1, to: 1 }], table: 'filter' }), 'string');
  assert.equal(withFirewall(nft.doors, 'ipset', 'filter')[0]?.open?.table, undefined, 'ipset has no tables');
});

test('the Open = accepts of a fragment are on the input hook only: in a gateway\'s FORWARD chain they would pass the knocker to every host behind it', () => {
  const gateway = parseConfig('[options]\nFirewall = ipset\n[ssh]\nsequence = 7000,8000,9000\nOpen = 2222\ncmd_timeout = 5\ntarget = 192.168.1.10\n', 'k.conf');
  const fragment = { ...base, complete: false, openSets: true };
  assert.match(generateRules(gateway, { ...fragment, hook: 'input' }), /-A NFKNOCK -m set --match-set nfknock-open4/);
  assert.doesNotMatch(generateRules(gateway, { ...fragment, hook: 'forward' }), /match-set/);
  assert.match(generateRules(gateway, { ...fragment, format: 'nft', hook: 'input' }), /@open4 accept/);
  assert.doesNotMatch(generateRules(gateway, { ...fragment, format: 'nft', hook: 'forward' }), /@open4 accept/);
  assert.doesNotMatch(generateRules(gateway, { ...fragment, format: 'nft', hook: 'prerouting' }), /@open4 accept/);
});
