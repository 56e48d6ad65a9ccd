import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { compareLive, formatDrift, type LiveExpectation } from '../src/check/live.js';
import { parseIptablesSave, parseNftJson, parseNftSets } from '../src/check/live-parse.js';
import { generateRules, type RulesOptions } from '../src/rules/generate.js';
import type { Door, Protocol } from '../src/core/types.js';
import { TcpFlag } from '../src/core/types.js';
import { config, door, steps } from './helpers/doors.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url)), 'utf8');
const expect4: LiveExpectation = { target: 'nflog', group: 5, prefix: 'portknock', hook: 'input', families: [4] };
const rules: RulesOptions = { target: 'nflog', group: 5, prefix: 'portknock', family: 4, complete: false, format: 'iptables' };
const synNotAck = { required: TcpFlag.SYN, forbidden: TcpFlag.ACK };
const probe = config([
  door({ name: 'openSSH', steps: steps('7000', '8000:udp', '9000'), tcpFlags: synNotAck }),
  door({ name: 'rot', steps: [], timeSequence: { length: 4, portMin: 40000, portMax: 40999, periodSeconds: 30, protocols: 'tcp' } }),
]);
const hooked = (text: string) => `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NFKNOCK\n${text.replace(/^\*filter$/m, '')}`;

test('a generated fragment, hooked into INPUT, is exactly what the config needs', () => {
  const live = parseIptablesSave(hooked(generateRules(probe, rules)), 4);
  assert.deepEqual(compareLive(probe, expect4, live), []);
  assert.match(formatDrift([]), /marks every knock port/);
});

test('a deleted mark is named with its port and doors, a foreign one as stale with its delete command', () => {
  const text = hooked(generateRules(probe, rules))
    .replace(/^-A NFKNOCK -p udp -m udp --dport 8000 .*$/m, '-A NFKNOCK -p udp -m udp --dport 8100 -j NFLOG --nflog-prefix portknock --nflog-group 5');
  const drifts = compareLive(probe, expect4, parseIptablesSave(text, 4));
  assert.deepEqual(drifts.map((d) => [d.kind, d.message]), [
    ['unmarked', 'IPv4: knock port 8000/udp (openSSH): not marked'],
    ['stale', 'IPv4: iptables filter NFKNOCK marks 8100/udp, which no door knocks on'],
  ]);
  assert.match(drifts[0]?.fix ?? '', /^nfknock rules -c \/etc\/knockd\.conf --family 4 \| iptables-restore --noflush && \{ iptables -C INPUT/);
  assert.equal(drifts[1]?.fix, 'iptables -t filter -D NFKNOCK -p udp -m udp --dport 8100 -j NFLOG --nflog-prefix portknock --nflog-group 5');
});

test('wrong group, unhooked chain, narrower flags, part of a range and a double mark are each explained', () => {
  const base = generateRules(probe, rules);
  const explain = (text: string, expectation = expect4) => compareLive(probe, expectation, parseIptablesSave(text, 4)).map((d) => `${d.kind}: ${d.message}`);
  assert.deepEqual(explain(base), [
    'unreachable: IPv4: knock port 7000/tcp (openSSH): marked in iptables filter NFKNOCK, which no input packet reaches (no jump to it)',
    'unreachable: IPv4: knock port 9000/tcp (openSSH): marked in iptables filter NFKNOCK, which no input packet reaches (no jump to it)',
    'unreachable: IPv4: knock ports 40000-40999/tcp (rot): marked in iptables filter NFKNOCK, which no input packet reaches (no jump to it)',
    'unreachable: IPv4: knock port 8000/udp (openSSH): marked in iptables filter NFKNOCK, which no input packet reaches (no jump to it)',
  ]);
  assert.match(explain(hooked(base), { ...expect4, group: 6 })[0] ?? '', /logged with NFLOG group 5 in iptables filter NFKNOCK; the daemon reads NFLOG group 6/);
  assert.match(explain(hooked(base), { ...expect4, target: 'log' })[0] ?? '', /logged with NFLOG group 5 .* the daemon reads LOG/);
  const narrower = hooked(base).replace('--dport 7000 --tcp-flags SYN,ACK SYN', '--dport 7000 --tcp-flags SYN,ACK,FIN SYN');
  assert.deepEqual(explain(narrower), ['wrong-flags: IPv4: knock port 7000/tcp (openSSH): the rule in iptables filter NFKNOCK tests TCP flags the doors do not (knocks they accept would not be logged)']);
  const partial = hooked(base).replace('--dport 40000:40999', '--dport 40000:40499');
  assert.deepEqual(explain(partial), ['unmarked: IPv4: knock ports 40500-40999/tcp (rot): not marked']);
  const twice = `${hooked(base).replace(/COMMIT\n$/, '')}-A INPUT -p tcp -m tcp --dport 40100 -j LOG --log-prefix "portknock "\nCOMMIT\n`;
  assert.deepEqual(explain(twice).map((line) => line.split(':')[0]), ['twice']);
  assert.match(explain(twice)[0] ?? '', /40100\/tcp is marked twice \(iptables filter NFKNOCK; iptables filter INPUT\)/);
});

test('nft JSON: a flood-guarded table counts through its knock_log chain; iptables-nft tables are skipped', () => {
  const expect46 = { ...expect4, families: [4, 6] as const };
  const live = parseNftJson(fixture('live-nft-flood-guard.json'));
  assert.equal(live.length, 8, 'four rules, each for IPv4 and IPv6 (inet)');
  assert.deepEqual(compareLive(probe, expect46, live), []);
  assert.deepEqual(parseNftJson(fixture('live-nft-flood-guard.json'), new Set(['inet/nfknock'])), []);
  const gateway = config([
    door({ name: 'web', steps: steps('7000', '8000:udp'), target: '10.202.5.2' }),
    door({ name: 'db', steps: steps('7000', '9000'), target: '10.202.5.3' }),
    door({ name: 'v6', steps: steps('7500'), target: 'fd00:202:5::2' }),
  ]);
  const forward = parseNftJson(fixture('live-nft-forward.json'));
  assert.deepEqual(compareLive(gateway, { ...expect46, hook: 'forward' }, forward), []);
  const asInput = compareLive(gateway, { ...expect46, hook: 'input' }, forward);
  assert.ok(asInput.length > 0 && asInput.every((d) => d.kind === 'unreachable' || d.kind === 'unmarked'), 'marks in the forward hook do not see knocks to this host');
  assert.match(asInput[0]?.message ?? '', /^IPv4: knock port 7000\/tcp \(db, web\): marked in nft inet nfknock knock, which no input packet reaches/);
});

test('parsers drop what they do not understand instead of throwing', () => {
  fc.assert(fc.property(fc.string(), (text) => Array.isArray(parseIptablesSave(text, 4))));
  fc.assert(fc.property(fc.jsonValue(), (value) => Array.isArray(parseNftJson(JSON.stringify({ nftables: [value, { rule: value }, { chain: value }] })))));
  assert.throws(() => parseNftJson('not json'), /not JSON/);
});

const protocol = fc.constantFrom<Protocol>('tcp', 'udp');
const doorsArb = fc
  .array(
    fc.record({
      steps: fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol }), { minLength: 1, maxLength: 5 }),
      tcpFlags: fc.constantFrom({ required: 0, forbidden: 0 }, synNotAck, { required: TcpFlag.SYN, forbidden: 0 }),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((list): Door[] => list.map((spec, i) => door({ name: `d${i}`, ...spec })));

test('property: whatever the doors, the generated rules (fragment or complete, NFLOG or LOG) compare clean', () => {
  fc.assert(
    fc.property(doorsArb, fc.boolean(), fc.constantFrom<'nflog' | 'log'>('nflog', 'log'), fc.constantFrom<4 | 6>(4, 6), (doors, complete, target, family) => {
      const cfg = config(doors);
      const text = generateRules(cfg, { ...rules, complete, target, family });
      const live = parseIptablesSave(complete ? text : hooked(text), family);
      assert.deepEqual(compareLive(cfg, { ...expect4, target, families: [family] }, live), []);
    }),
  );
});

test('the sets door commands add knockers to must exist: nft sets by family/table/name, ipsets by name', () => {
  const withSets = config([
    door({ name: 'nftDoor', startCommand: 'nft add element inet nfknock open4 { %IP% . tcp . 22 }', stopCommand: 'nft delete element inet nfknock open4 { %IP% . tcp . 22 }' }),
    door({ name: 'plainNft', steps: steps('7100'), startCommand: 'nft add element filter allowed { %IP% }', stopCommand: undefined }),
    door({ name: 'ipsetDoor', steps: steps('7200'), startCommand: 'ipset add -exist knockers %IP% timeout 30' }),
  ]);
  const kinds = (sets: Parameters<typeof compareLive>[3]) => compareLive(withSets, { ...expect4, families: [] }, [], sets).map((d) => d.message);
  assert.deepEqual(kinds({}), [], 'without the tools there is nothing to say');
  assert.deepEqual(kinds({ nft: new Set(['inet nfknock open4', 'ip filter allowed']), ipset: new Set(['knockers']) }), []);
  assert.deepEqual(kinds({ nft: new Set(['inet nfknock open6']), ipset: new Set() }), [
    'door [nftDoor] adds knockers to nft set inet nfknock open4, which the loaded ruleset lacks: the door cannot open',
    'door [plainNft] adds knockers to nft set ip filter allowed, which the loaded ruleset lacks: the door cannot open',
    'door [ipsetDoor] adds knockers to ipset knockers, which the loaded ruleset lacks: the door cannot open',
  ]);
  assert.deepEqual([...parseNftSets(fixture('live-nft-flood-guard.json'))], ['inet nfknock flood4', 'inet nfknock flood6']);
});

test('issue 13: the sets of Open = doors must exist too, both families, named with the command that creates them', () => {
  const open = (firewall: 'nft' | 'ipset', table?: string) => ({ firewall, ports: [{ protocol: 'tcp' as const, from: 2222, to: 2222 }], ...(table === undefined ? {} : { table }) });
  const doors = config([
    door({ name: 'nftOpen', startCommand: undefined, stopCommand: undefined, open: open('nft') }),
    door({ name: 'ownTable', steps: steps('7100'), startCommand: undefined, stopCommand: undefined, open: open('nft', 'filter') }),
    door({ name: 'ipsetOpen', steps: steps('7200'), startCommand: undefined, stopCommand: undefined, open: open('ipset') }),
  ]);
  const drifts = (sets: Parameters<typeof compareLive>[3]) => compareLive(doors, { ...expect4, families: [] }, [], sets);
  assert.deepEqual(drifts({ nft: new Set(['inet nfknock open4', 'inet nfknock open6', 'inet filter open4', 'inet filter open6']), ipset: new Set(['nfknock-open4', 'nfknock-open6']) }), []);
  const missing = drifts({ nft: new Set(['inet nfknock open4']), ipset: new Set(['nfknock-open4']) });
  assert.deepEqual(missing.map((d) => d.message), [
    'door [nftOpen] adds knockers to nft set inet nfknock open6, which the loaded ruleset lacks: the door cannot open',
    'door [ownTable] adds knockers to nft set inet filter open4, which the loaded ruleset lacks: the door cannot open',
    'door [ownTable] adds knockers to nft set inet filter open6, which the loaded ruleset lacks: the door cannot open',
    'door [ipsetOpen] adds knockers to ipset nfknock-open6, which the loaded ruleset lacks: the door cannot open',
  ]);
  assert.match(missing[1]?.fix ?? '', /--own-table filter/);
  assert.match(missing[3]?.fix ?? '', /nfknock rules --format ipset/);
});

test('gateway marks (-d per Target) compare clean on their hook, and a prerouting mark serves the forward hook too', () => {
  const gateway = config([
    door({ name: 'web', steps: steps('7000', '8000:udp'), target: '10.202.5.2' }),
    door({ name: 'db', steps: steps('7000', '9000'), target: '10.202.5.3' }),
  ]);
  const forward = generateRules(gateway, { ...rules, hook: 'forward' }).replace('*filter', '*filter\n-A FORWARD -j NFKNOCK');
  assert.deepEqual(compareLive(gateway, { ...expect4, hook: 'forward' }, parseIptablesSave(forward, 4)), []);
  const prerouting = generateRules(gateway, { ...rules, hook: 'prerouting' }).replace('*mangle', '*mangle\n-A PREROUTING -j NFKNOCK');
  const live = parseIptablesSave(prerouting, 4);
  assert.deepEqual(compareLive(gateway, { ...expect4, hook: 'prerouting' }, live), []);
  assert.deepEqual(compareLive(gateway, { ...expect4, hook: 'forward' }, live), []);
  // db's marks swapped to web's address: 9000/tcp is then marked for the wrong host.
  const wrongHost = forward.replace('-d 10.202.5.3 -p tcp -m tcp --dport 9000', '-d 10.202.5.2 -p tcp -m tcp --dport 9000');
  const drifts = compareLive(gateway, { ...expect4, hook: 'forward' }, parseIptablesSave(wrongHost, 4));
  assert.deepEqual(drifts.map((d) => d.kind), ['wrong-destination', 'stale']);
  assert.match(drifts[0]?.message ?? '', /knock port 9000\/tcp to 10\.202\.5\.3 \(db\): marked only for destination 10\.202\.5\.2/);
});
