import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatOpenPorts, parseFirewallKind, parseOpenPorts, withFirewall, type OpenPort } from '../src/firewall/open-ports.js';
import { checkOpening } from '../src/firewall/opening-record.js';
import { parseConfig } from '../src/config/parse.js';
import { mergeDropIns } from '../src/config/include.js';
import { mergeFlags } from '../src/daemon/options.js';
import { ErrorCodes, NfknockError } from '../src/core/errors.js';
import { problemsOf } from './helpers/config-assert.js';

test('Open: ports, protocols (tcp by default), ranges', () => {
  assert.deepEqual(parseOpenPorts('22'), { ok: true, ports: [{ protocol: 'tcp', from: 22, to: 22 }] });
  assert.deepEqual(parseOpenPorts(' 22:TCP , 60000-61000:udp'), {
    ok: true,
    ports: [
      { protocol: 'tcp', from: 22, to: 22 },
      { protocol: 'udp', from: 60000, to: 61000 },
    ],
  });
});

test('Open: every malformed element is refused with the element quoted', () => {
  for (const [value, message] of [
    ['', /at least one port/],
    ['22,', /stray comma/],
    ['0', /bad port/],
    ['65536', /bad port/],
    ['22:sctp', /unknown protocol/],
    ['22:tcp:x', /bad element/],
    ['2000-1000', /lower port/],
    ['1-2-3', /bad port range/],
    ['22,22:tcp', /given twice/],
    ['20-30, 25', /inside a range/],
    ['abc', /bad port/],
  ] as const) {
    const parsed = parseOpenPorts(value);
    assert.equal(parsed.ok, false, value);
    if (!parsed.ok) assert.match(parsed.message, message, value);
  }
  assert.equal(parseOpenPorts(Array.from({ length: 33 }, (_, i) => String(i + 1)).join(',')).ok, false);
});

const openPort = fc
  .tuple(fc.constantFrom('tcp' as const, 'udp' as const), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 2000 }))
  .map(([protocol, from, width]): OpenPort => ({ protocol, from, to: Math.min(65535, from + width) }));

test('Open: formatting parses back to the same ports (property)', () => {
  fc.assert(
    fc.property(fc.array(openPort, { minLength: 1, maxLength: 32 }), (candidates) => {
      const ports = candidates.filter((port, i) => !candidates.slice(0, i).some((p) => p.protocol === port.protocol && p.from <= port.to && port.from <= p.to));
      assert.deepEqual(parseOpenPorts(formatOpenPorts(ports)), { ok: true, ports });
    }),
  );
});

test('Open: any text either parses to valid ports or is refused, never throws (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      const parsed = parseOpenPorts(text);
      if (parsed.ok) for (const port of parsed.ports) assert.ok(port.from >= 1 && port.from <= port.to && port.to <= 65535);
    }),
  );
});

test('a recorded opening is rebuilt from checked fields only', () => {
  assert.deepEqual(checkOpening({ firewall: 'ipset', ports: [{ protocol: 'udp', from: 1, to: 2, extra: 'x' }] }), { firewall: 'ipset', ports: [{ protocol: 'udp', from: 1, to: 2 }] });
  for (const bad of [null, [], { firewall: 'pf', ports: [] }, { firewall: 'nft', ports: [] }, { firewall: 'nft', ports: [{ protocol: 'tcp', from: 5, to: 4 }] }, { firewall: 'nft', ports: [{ protocol: 'icmp', from: 5, to: 5 }] }]) {
    assert.equal(typeof checkOpening(bad), 'string', JSON.stringify(bad));
  }
});

test('config: Open needs Cmd_Timeout > 0, makes Start_Command optional, and takes the [options] Firewall', () => {
  const config = parseConfig(['[options]', 'Firewall = ipset', '[ssh]', 'sequence = 1,2,3', 'Open = 22', 'cmd_timeout = 5'].join('\n'), 'k.conf');
  assert.deepEqual(config.doors[0]?.open, { firewall: 'ipset', ports: [{ protocol: 'tcp', from: 22, to: 22 }] });
  assert.equal(config.options.firewall, 'ipset');
  assert.equal(parseConfig('[ssh]\nsequence = 1,2,3\nOpen = 22\ncmd_timeout = 5\n', 'k.conf').doors[0]?.open?.firewall, 'nft');
  const refused = (text: string, line: number, pattern: RegExp) => {
    const [problem, ...more] = problemsOf(text, 'k.conf');
    assert.deepEqual(more, [], text);
    assert.equal(problem?.line, line, text);
    assert.match(problem?.message ?? '', pattern, text);
  };
  refused('[ssh]\nsequence = 1,2,3\nOpen = 22\n', 3, /Open needs Cmd_Timeout/);
  refused('[ssh]\nsequence = 1,2,3\nOpen = 22\ncmd_timeout = 0\n', 4, /must be > 0/);
  refused('[ssh]\nsequence = 1,2,3\nOpen = 22:icmp\ncmd_timeout = 5\n', 3, /unknown protocol/);
  refused('[options]\nFirewall = pf\n', 2, /Firewall must be one of nft, ipset/);
});

test('--firewall wins over [options] Firewall and rebinds every Open door; a bad value is a usage error', () => {
  const config = parseConfig('[ssh]\nsequence = 1,2,3\nOpen = 22\ncmd_timeout = 5\n', 'k.conf');
  const merged = mergeFlags(config, { config: 'k.conf', firewall: 'ipset' });
  assert.equal(merged.options.firewall, 'ipset');
  assert.equal(merged.doors[0]?.open?.firewall, 'ipset');
  assert.throws(() => mergeFlags(config, { config: 'k.conf', firewall: 'iptables' }), (error: NfknockError) => error.code === ErrorCodes.USAGE);
  assert.equal(parseFirewallKind(' NFT '), 'nft');
  assert.deepEqual(withFirewall(config.doors, 'nft'), config.doors);
});

test('a drop-in has no [options]: its Open doors use the main file\'s Firewall and NftTable', () => {
  const main = parseConfig('[options]\nFirewall = nft\nNftTable = filter\n[web]\nsequence = 1,2,3\nOpen = 443\ncmd_timeout = 5\n', '/etc/knockd.conf');
  const dropIn = parseConfig('[ssh]\nsequence = 4,5,6\nOpen = 22\ncmd_timeout = 5\n', '/etc/nfknock/doors.d/ssh.conf', { dropIn: true });
  const merged = mergeDropIns(main, [dropIn]);
  assert.deepEqual(merged.doors.map((door) => door.open), [
    { firewall: 'nft', ports: [{ protocol: 'tcp', from: 443, to: 443 }], table: 'filter' },
    { firewall: 'nft', ports: [{ protocol: 'tcp', from: 22, to: 22 }], table: 'filter' },
  ]);
  const ipset = mergeDropIns(parseConfig('[options]\nFirewall = ipset\n', '/etc/knockd.conf'), [dropIn]);
  assert.equal(ipset.doors[0]?.open?.firewall, 'ipset');
});
