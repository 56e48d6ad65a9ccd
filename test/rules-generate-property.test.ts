import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateRules, type RulesOptions } from '../src/rules/generate.js';
import type { Door, KnockStep, Protocol } from '../src/core/types.js';
import { config, door } from './helpers/doors.js';

const protocol = fc.constantFrom<Protocol>('tcp', 'udp');
const step = fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol });
const flags = fc.record({ required: fc.integer({ min: 0, max: 63 }), forbidden: fc.integer({ min: 0, max: 63 }) })
  .map(({ required, forbidden }) => ({ required, forbidden: forbidden & ~required }));
const range = fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 300 }), fc.constantFrom('tcp', 'udp', 'mixed' as const))
  .map(([portMin, width, protocols]) => ({ length: 3, portMin, portMax: Math.min(65535, portMin + width), periodSeconds: 30, protocols }));
const randomDoor = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 6 }),
  tcpFlags: flags,
  timeSequence: fc.option(range, { nil: undefined }),
});
const doorsArb = fc.array(randomDoor, { minLength: 1, maxLength: 5 }).map((list) =>
  list.map((spec, i) => door({ name: `d${i}`, ...spec })),
);
const optionsArb = fc.record({
  format: fc.constantFrom<RulesOptions['format']>('iptables', 'nft'),
  target: fc.constantFrom<RulesOptions['target']>('nflog', 'log'),
  complete: fc.boolean(),
  family: fc.constantFrom<RulesOptions['family']>(4, 6),
  guarded: fc.boolean(),
});

/** Parses the generated marks back: every `dport` of the knock chain, as (protocol, from, to). */
function markedIntervals(text: string, format: RulesOptions['format']): { protocol: Protocol; from: number; to: number }[] {
  const pattern =
    format === 'iptables'
      ? /^-A NFKNOCK -p (tcp|udp) -m \1 --dport (\d+)(?::(\d+))? /gm
      : /^\t\t(tcp|udp) dport (\d+)(?:-(\d+))? /gm;
  return [...text.matchAll(pattern)].map((m) => ({
    protocol: m[1] as Protocol,
    from: Number(m[2]),
    to: Number(m[3] ?? m[2]),
  }));
}

function expectedPorts(doors: Door[]): Map<Protocol, Set<number>> {
  const ports = new Map<Protocol, Set<number>>([['tcp', new Set()], ['udp', new Set()]]);
  const add = (s: KnockStep) => ports.get(s.protocol)?.add(s.port);
  for (const d of doors) {
    d.steps.forEach(add);
    const spec = d.timeSequence;
    if (!spec) continue;
    for (const p of spec.protocols === 'mixed' ? (['tcp', 'udp'] as const) : [spec.protocols]) {
      for (let port = spec.portMin; port <= spec.portMax; port++) add({ port, protocol: p });
    }
  }
  return ports;
}

test('every knock port is marked exactly once for its protocol, and no other port is', () => {
  fc.assert(
    fc.property(doorsArb, optionsArb, (doors, o) => {
      const options: RulesOptions = {
        format: o.format, target: o.target, complete: o.complete, family: o.family, group: 5, prefix: 'portknock',
        floodGuard: o.guarded ? { perSourcePerSecond: 10, burst: 20 } : undefined,
      };
      const text = generateRules(config(doors), options);
      const expected = expectedPorts(doors);
      const seen = new Map<Protocol, Set<number>>([['tcp', new Set()], ['udp', new Set()]]);
      for (const interval of markedIntervals(text, o.format)) {
        assert.ok(interval.from <= interval.to);
        for (let port = interval.from; port <= interval.to; port++) {
          const set = seen.get(interval.protocol) as Set<number>;
          assert.ok(!set.has(port), `${port}/${interval.protocol} is marked twice: it would be logged twice`);
          set.add(port);
        }
      }
      assert.deepEqual([...(seen.get('tcp') ?? [])].sort((a, b) => a - b), [...(expected.get('tcp') ?? [])].sort((a, b) => a - b));
      assert.deepEqual([...(seen.get('udp') ?? [])].sort((a, b) => a - b), [...(expected.get('udp') ?? [])].sort((a, b) => a - b));
    }),
    { numRuns: 300 },
  );
});

test('a TCP mark never demands a flag bit that one of its doors would not', () => {
  fc.assert(
    fc.property(doorsArb, (doors) => {
      const text = generateRules(config(doors), { format: 'iptables', target: 'nflog', complete: false, family: 4, group: 5, prefix: 'portknock' });
      for (const m of text.matchAll(/^-A NFKNOCK -p tcp -m tcp --dport (\d+)(?::(\d+))?(?: --tcp-flags (\S+) (\S+))? /gm)) {
        if (m[3] === undefined) continue;
        const from = Number(m[1]);
        const to = Number(m[2] ?? m[1]);
        const bit = (names: string) => names.split(',').reduce((acc, n) => acc | ({ FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, NONE: 0 }[n] ?? 0), 0);
        const mask = bit(m[3]);
        const comp = bit(m[4] ?? '');
        for (const d of doors) {
          const covers = d.steps.some((s) => s.protocol === 'tcp' && s.port >= from && s.port <= to) ||
            (d.timeSequence && d.timeSequence.protocols !== 'udp' && d.timeSequence.portMin <= to && d.timeSequence.portMax >= from);
          if (!covers) continue;
          // Any packet the door accepts must pass the mark: the mark's tested bits agree with the door's.
          assert.equal(mask & ~(d.tcpFlags.required | d.tcpFlags.forbidden), 0, 'mark tests a bit the door does not');
          assert.equal(comp & mask, d.tcpFlags.required & mask);
        }
      }
    }),
    { numRuns: 300 },
  );
});
