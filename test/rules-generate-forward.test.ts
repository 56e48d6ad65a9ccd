import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRules, markGroups, type RulesOptions } from '../src/rules/generate.js';
import { iptablesHookCommand } from '../src/rules/iptables.js';
import { NfknockError } from '../src/core/errors.js';
import { config, door, steps } from './helpers/doors.js';

const base: RulesOptions = { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: false, format: 'iptables', hook: 'forward' };
const gateway = config([
  door({ name: 'web', steps: steps('7000', '8000:udp'), target: '10.202.5.2' }),
  door({ name: 'db', steps: steps('7000', '9000'), target: '10.202.5.3' }),
  door({ name: 'v6', steps: steps('7500'), target: 'fd00:202:5::2' }),
]);
const rules = (text: string) => text.split('\n').filter((line) => /^-A|^\t\t(ip|ip6) daddr/.test(line));

test('--hook forward marks each door only for its Target, per family', () => {
  assert.deepEqual(rules(generateRules(gateway, base)), [
    '-A NFKNOCK -d 10.202.5.2 -p tcp -m tcp --dport 7000 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -d 10.202.5.2 -p udp -m udp --dport 8000 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -d 10.202.5.3 -p tcp -m tcp --dport 7000 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
    '-A NFKNOCK -d 10.202.5.3 -p tcp -m tcp --dport 9000 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
  ]);
  assert.deepEqual(rules(generateRules(gateway, { ...base, family: 6 })), [
    '-A NFKNOCK -d fd00:202:5::2 -p tcp -m tcp --dport 7500 -j NFLOG --nflog-prefix portknock --nflog-group 5 --nflog-size 128',
  ]);
  const nft = generateRules(gateway, { ...base, format: 'nft' });
  assert.match(nft, /type filter hook forward priority filter - 1; policy accept;/);
  assert.deepEqual(rules(nft).length, 5);
  assert.match(nft, /\t\tip6 daddr fd00:202:5::2 tcp dport 7500 log prefix "portknock" group 5 snaplen 128/);
});

test('--hook prerouting marks in mangle PREROUTING / at mangle priority, before a DNAT', () => {
  const text = generateRules(gateway, { ...base, hook: 'prerouting' });
  assert.match(text, /^\*mangle$/m);
  assert.match(text, /^# +iptables -t mangle -C PREROUTING -j NFKNOCK 2>\/dev\/null \|\| iptables -t mangle -I PREROUTING 1 -j NFKNOCK$/m);
  assert.match(generateRules(gateway, { ...base, hook: 'prerouting', format: 'nft' }), /hook prerouting priority mangle;/);
  assert.equal(iptablesHookCommand(4), 'iptables -C INPUT -j NFKNOCK 2>/dev/null || iptables -I INPUT 1 -j NFKNOCK');
});

test('the complete iptables table lets replies through FORWARD and sends forwarded packets through the marks', () => {
  const text = generateRules(gateway, { ...base, complete: true });
  assert.match(text, /^:FORWARD DROP \[0:0\]$/m);
  assert.match(text, /^-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -j NFKNOCK$/m);
  assert.throws(() => generateRules(gateway, { ...base, complete: true, format: 'nft' }), /--complete with --hook forward --format nft is not offered/);
  assert.throws(() => generateRules(gateway, { ...base, complete: true, hook: 'prerouting' }), /not offered/);
});

test('a door without Target cannot be marked in the forward path', () => {
  const noTarget = config([door({ name: 'local' })], '/etc/knockd.conf');
  assert.throws(() => generateRules(noTarget, base), (error: unknown) => error instanceof NfknockError && /^\/etc\/knockd\.conf:1: door \[local\] has no Target/.test(error.describe()));
  assert.deepEqual(markGroups(noTarget, { hook: 'input' }).map((group) => group.destination), [undefined], 'the input hook needs no Target');
});
