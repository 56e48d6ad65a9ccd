import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filteringSink, filterRejection } from '../src/sources/filtering-sink.js';
import type { KnockEvent } from '../src/core/types.js';
import type { SourceSink } from '../src/sources/types.js';

const event = (overrides: Partial<KnockEvent> = {}): KnockEvent => ({ source: '10.0.0.2', family: 4, destination: '10.0.0.1', protocol: 'udp', port: 7000, tcpFlags: 0, at: 1, ...overrides });

function recorder() {
  const seen: string[] = [];
  const sink: SourceSink = {
    event: (e) => seen.push(`event ${e.source}`),
    reject: (reason, detail) => seen.push(`${reason} ${detail ?? ''}`),
    overrun: () => seen.push('overrun'),
    trouble: () => seen.push('trouble'),
  };
  return { sink, seen };
}

test('Interface: only knocks that came in on it pass; an unknown interface is not it', () => {
  assert.equal(filterRejection(event({ inInterface: 'eth0' }), { interface: 'eth0' }), undefined);
  assert.equal(filterRejection(event({ inInterface: 'lo' }), { interface: 'eth0' }), 'wrong-interface');
  assert.equal(filterRejection(event(), { interface: 'eth0' }), 'wrong-interface');
  assert.equal(filterRejection(event({ inInterface: 'lo' }), {}), undefined);
});

test('-4 refuses IPv6 knocks; the interface is checked first, as each source used to', () => {
  assert.equal(filterRejection(event({ family: 6, source: 'fd00::2' }), { onlyIpV4: true }), 'ipv6-disabled');
  assert.equal(filterRejection(event({ family: 6, source: 'fd00::2', inInterface: 'lo' }), { onlyIpV4: true, interface: 'eth0' }), 'wrong-interface');
  assert.equal(filterRejection(event(), { onlyIpV4: true }), undefined);
});

test('the filtering sink turns refusals into rejects with source and interface, and passes everything else on', () => {
  const { sink, seen } = recorder();
  const filtered = filteringSink(sink, { interface: 'eth0', onlyIpV4: true });
  filtered.event(event({ inInterface: 'eth0' }));
  filtered.event(event({ inInterface: 'lo' }));
  filtered.event(event({ family: 6, source: 'fd00::2', inInterface: 'eth0' }));
  filtered.overrun('nflog');
  assert.deepEqual(seen, ['event 10.0.0.2', 'wrong-interface 10.0.0.2 on lo', 'ipv6-disabled fd00::2 on eth0', 'overrun']);
  assert.equal(filteringSink(sink, {}), sink, 'no filter, no wrapper');
});
