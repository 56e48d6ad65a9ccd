import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareWithState, ipsetHasTimeouts, nftSetHasTimeouts, parseIpsetSave, parseNftSetJson } from '../src/firewall/kernel-view.js';
import type { PendingClose } from '../src/doors/pending-close.js';

// Real output of nft 1.0.6 (Debian 12) for a set with flags interval,timeout.
const NFT_JSON =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"set": {"family": "inet", "name": "open4", "table": "nfknock", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 1, "flags": ["interval", "timeout"], "elem": [{"elem": {"val": {"concat": ["10.0.0.2", "udp", {"range": [60000, 61000]}]}, "timeout": 50, "expires": 49}}, {"elem": {"val": {"concat": ["10.0.0.2", "tcp", 2222]}, "timeout": 30, "expires": 29}}, {"concat": ["10.0.0.3", "tcp", 22]}]}}]}';
// Real output of ipset 7.17.
const IPSET_SAVE = [
  'create nfknock-open4 hash:ip,port family inet hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x4b8adb77',
  'add nfknock-open4 10.0.0.2,tcp:2222 timeout 49',
  'add nfknock-open4 10.0.0.2,udp:60000 timeout 49',
  'add nfknock-open4 10.0.0.4,icmp:8/0 timeout 3',
  '',
].join('\n');

test('nft -j list set: elements with and without timeouts, single ports and ranges', () => {
  assert.deepEqual(parseNftSetJson(NFT_JSON), {
    ok: true,
    entries: [
      { firewall: 'nft', source: '10.0.0.2', family: 4, port: { protocol: 'udp', from: 60000, to: 61000 }, expiresInSeconds: 49 },
      { firewall: 'nft', source: '10.0.0.2', family: 4, port: { protocol: 'tcp', from: 2222, to: 2222 }, expiresInSeconds: 29 },
      { firewall: 'nft', source: '10.0.0.3', family: 4, port: { protocol: 'tcp', from: 22, to: 22 } },
    ],
  });
  assert.equal(nftSetHasTimeouts(NFT_JSON), true);
  assert.equal(nftSetHasTimeouts(NFT_JSON.replace('"interval", "timeout"', '"interval"')), false);
  const v6 = '{"nftables": [{"set": {"elem": [{"elem": {"val": {"concat": ["FD00:0::2", 6, 2222]}, "timeout": 5, "expires": 4}}]}}]}';
  assert.deepEqual(parseNftSetJson(v6), { ok: true, entries: [{ firewall: 'nft', source: 'fd00::2', family: 6, port: { protocol: 'tcp', from: 2222, to: 2222 }, expiresInSeconds: 4 }] });
});

test('ipset save: entries with their remaining time; other protocols are not nfknock\'s', () => {
  assert.deepEqual(parseIpsetSave(IPSET_SAVE), {
    ok: true,
    entries: [
      { firewall: 'ipset', source: '10.0.0.2', family: 4, port: { protocol: 'tcp', from: 2222, to: 2222 }, expiresInSeconds: 49 },
      { firewall: 'ipset', source: '10.0.0.2', family: 4, port: { protocol: 'udp', from: 60000, to: 60000 }, expiresInSeconds: 49 },
    ],
  });
  assert.equal(ipsetHasTimeouts(IPSET_SAVE), true);
  assert.equal(ipsetHasTimeouts('create nfknock-open4 hash:ip,port family inet hashsize 1024 maxelem 65536\n'), false);
  assert.equal(parseIpsetSave('flush everything\n').ok, false);
});

test('kernel output parsers never throw, whatever the bytes (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      parseIpsetSave(text);
      parseNftSetJson(text);
      nftSetHasTimeouts(text);
    }),
  );
  fc.assert(
    fc.property(fc.json(), (text) => {
      const parsed = parseNftSetJson(text);
      if (parsed.ok) for (const entry of parsed.entries) assert.ok(entry.port.from >= 1 && entry.port.to <= 65535);
    }),
  );
});

test('a parsed nft element always names a canonical address and a valid port (property)', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.constantFrom('tcp', 'udp', 6, 17), fc.integer({ min: 1, max: 65535 }), fc.nat(100000), (address, protocol, port, expires) => {
      const text = JSON.stringify({ nftables: [{ set: { elem: [{ elem: { val: { concat: [address, protocol, port] }, timeout: expires + 1, expires } }] } }] });
      const parsed = parseNftSetJson(text);
      assert.ok(parsed.ok);
      assert.equal(parsed.entries[0]?.port.from, port);
      assert.equal(parsed.entries[0]?.expiresInSeconds, expires);
    }),
  );
});

test('mismatches: entries the state file does not know, recorded doors with no entry', () => {
  const pending: PendingClose[] = [
    { id: 'a', door: 'ssh', source: '10.0.0.2', family: 4, open: { firewall: 'ipset', ports: [{ protocol: 'udp', from: 60000, to: 60001 }] }, openedAt: 1, closesAt: 2 },
    { id: 'b', door: 'web', source: '10.0.0.9', family: 4, open: { firewall: 'ipset', ports: [{ protocol: 'tcp', from: 443, to: 443 }] }, openedAt: 1, closesAt: 2 },
    { id: 'c', door: 'cmd', source: '10.0.0.9', family: 4, stopCommand: 'x', openedAt: 1, closesAt: 2 },
  ];
  const parsed = parseIpsetSave(IPSET_SAVE);
  assert.ok(parsed.ok);
  assert.deepEqual(compareWithState(parsed.entries, pending, ['ipset']), [
    { kind: 'not-in-state', source: '10.0.0.2', port: '2222/tcp', firewall: 'ipset' },
    { kind: 'not-in-kernel', door: 'web', source: '10.0.0.9', port: '443/tcp', firewall: 'ipset' },
  ]);
});
