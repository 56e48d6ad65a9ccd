import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseProcNet } from '../src/check/listening.js';

const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (local: string, remote: string, state: string) =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000     0        0 1583 1 0000000000000000 100 0 0 10 0`;

test('TCP listeners are found; loopback-only ones are marked; other states are ignored', () => {
  const text = [
    header,
    row('00000000:0016', '00000000:0000', '0A'), // 0.0.0.0:22
    row('0100007F:0277', '00000000:0000', '0A'), // 127.0.0.1:631
    row('0F02000A:0016', '0202000A:C350', '01'), // established
  ].join('\n');
  assert.deepEqual(parseProcNet(text, 'tcp'), [
    { protocol: 'tcp', port: 22, loopbackOnly: false },
    { protocol: 'tcp', port: 631, loopbackOnly: true },
  ]);
});

test('IPv6 tables: ::1 and ::ffff:127.0.0.1 are loopback, :: is not', () => {
  const text = [
    header,
    row('00000000000000000000000001000000:0035', '00000000000000000000000000000000:0000', '07'),
    row('0000000000000000FFFF00000100007F:0036', '00000000000000000000000000000000:0000', '07'),
    row('00000000000000000000000000000000:0037', '00000000000000000000000000000000:0000', '07'),
    row('00000000000000000000000000000000:0038', '20010DB8000000000000000000000001:0035', '01'),
  ].join('\n');
  assert.deepEqual(parseProcNet(text, 'udp'), [
    { protocol: 'udp', port: 53, loopbackOnly: true },
    { protocol: 'udp', port: 54, loopbackOnly: true },
    { protocol: 'udp', port: 55, loopbackOnly: false },
  ]);
});

test('any listener written the way the kernel writes it parses back; garbage lines are skipped', () => {
  const entry = fc.record({
    port: fc.integer({ min: 1, max: 65535 }),
    address: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
    listening: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 20 }), fc.array(fc.string(), { maxLength: 5 }), (entries, garbage) => {
      const hexWord = (bytes: number[]) => [...bytes].reverse().map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
      const lines = entries.map((e) => row(`${hexWord(e.address)}:${e.port.toString(16).padStart(4, '0').toUpperCase()}`, '00000000:0000', e.listening ? '0A' : '06'));
      const text = [header, ...lines, ...garbage.map((g) => g.replace(/\n/g, ' '))].join('\n');
      const parsed = parseProcNet(text, 'tcp');
      const expected = entries.filter((e) => e.listening).map((e) => ({ protocol: 'tcp', port: e.port, loopbackOnly: e.address[0] === 127 }));
      assert.deepEqual(parsed.slice(0, expected.length), expected);
    }),
  );
});
