import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeNflogBatch, NflogDecoder, nflogRejectReasons, type NflogBatchHandler } from '../src/decode/nflog.js';
import { canonicalAddress } from '../src/core/address.js';
import type { KnockEvent } from '../src/core/types.js';
import { doneMessage, errorMessage, ipv4Packet, ipv6Packet, packetMessage, transportBytes, type ExtensionHeader } from './helpers/nflog-builder.js';

interface Outcomes {
  events: Array<{ event: KnockEvent; ifindex: number }>;
  other: string[];
  calls: number;
}

/** Every outcome any fuzz case produced: the last test checks the generators reach them all. */
const reached = new Set<string>();

function decode(buf: Uint8Array, prefix = 'portknock', receivedAt = 5): Outcomes {
  const out: Outcomes = { events: [], other: [], calls: 0 };
  const handler: NflogBatchHandler = {
    event: (event, ifindex) => {
      out.calls++;
      out.events.push({ event, ifindex });
      reached.add('event');
    },
    reject: (reason) => {
      out.calls++;
      out.other.push(reason);
      reached.add(reason);
    },
    control: (kind) => {
      out.calls++;
      out.other.push(kind);
    },
  };
  decodeNflogBatch(buf, { prefix, receivedAt }, handler);
  return out;
}

interface KnockSpec {
  family: 4 | 6;
  source: number[];
  destination: number[];
  protocol: 'tcp' | 'udp';
  port: number;
  sourcePort: number;
  tcpFlags: number;
  ifindex: number;
  timestamp: { sec: number; usec: number } | null;
  extensions: ExtensionHeader[];
  optionWords: number;
  trailing: number;
}

const extensionArb: fc.Arbitrary<ExtensionHeader> = fc.oneof(
  fc.record({ type: fc.constantFrom(0, 43, 60), lengthUnits: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ type: fc.constant(51), lengthUnits: fc.integer({ min: 1, max: 6 }) }),
  fc.constant({ type: 44, fragmentOffset: 0 }),
);

const knockArb: fc.Arbitrary<KnockSpec> = fc.constantFrom<4 | 6>(4, 6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    source: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }),
    destination: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }),
    protocol: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
    port: fc.integer({ min: 0, max: 65535 }),
    sourcePort: fc.integer({ min: 0, max: 65535 }),
    tcpFlags: fc.integer({ min: 0, max: 0x3f }),
    ifindex: fc.integer({ min: 0, max: 0xffffffff }),
    timestamp: fc.option(fc.record({ sec: fc.integer({ min: 0, max: 2 ** 40 }), usec: fc.integer({ min: 0, max: 999_999 }) })),
    extensions: family === 6 ? fc.array(extensionArb, { maxLength: 4 }) : fc.constant([]),
    optionWords: family === 4 ? fc.integer({ min: 0, max: 10 }) : fc.constant(0),
    trailing: fc.integer({ min: 0, max: 12 }),
  }),
);

function v4Text(bytes: number[]): string {
  return bytes.join('.');
}

function v6Text(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function buildKnock(spec: KnockSpec): Buffer {
  const transport = transportBytes({
    protocol: spec.protocol,
    port: spec.port,
    sourcePort: spec.sourcePort,
    tcpFlags: spec.tcpFlags,
    payload: Buffer.alloc(spec.trailing, 0xab),
  });
  const protocol = spec.protocol === 'tcp' ? 6 : 17;
  const payload =
    spec.family === 4
      ? ipv4Packet({ source: v4Text(spec.source), destination: v4Text(spec.destination), protocol, optionWords: spec.optionWords, transport })
      : ipv6Packet({ source: v6Text(spec.source), destination: v6Text(spec.destination), protocol, extensions: spec.extensions, transport });
  return packetMessage({ family: spec.family === 4 ? 2 : 10, payload, ifindex: spec.ifindex, timestamp: spec.timestamp });
}

function expectedEvent(spec: KnockSpec): KnockEvent {
  const text = spec.family === 4 ? v4Text : v6Text;
  return {
    source: canonicalAddress(text(spec.source))?.address ?? 'unparseable',
    family: spec.family,
    destination: canonicalAddress(text(spec.destination))?.address ?? 'unparseable',
    protocol: spec.protocol,
    port: spec.port,
    tcpFlags: spec.protocol === 'tcp' ? spec.tcpFlags : 0,
    at: spec.timestamp ? spec.timestamp.sec * 1000 + Math.floor(spec.timestamp.usec / 1000) : 5,
  };
}

/** Message boundaries as the netlink framing defines them, computed without the decoder. */
function messageCount(buf: Uint8Array): number {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let count = 0;
  for (let p = 0; p < view.length; ) {
    count++;
    if (view.length - p < 16) break;
    const length = little ? view.readUInt32LE(p) : view.readUInt32BE(p);
    if (length < 16 || length > view.length - p) break;
    p += (length + 3) & ~3;
  }
  return count;
}

const started = Date.now();
let cases = 0;
const counted =
  <A extends unknown[]>(predicate: (...values: A) => void) =>
  (...values: A) => {
    cases++;
    predicate(...values);
  };

test('random valid knocks round-trip to exactly their fields', () => {
  fc.assert(
    fc.property(
      knockArb,
      counted((spec: KnockSpec) => {
        const out = decode(buildKnock(spec));
        assert.deepEqual(out.other, []);
        assert.deepEqual(out.events, [{ event: expectedEvent(spec), ifindex: spec.ifindex }]);
      }),
    ),
    { numRuns: 30_000 },
  );
});

test('batches of knocks yield one event per message, in order', () => {
  fc.assert(
    fc.property(
      fc.array(knockArb, { minLength: 1, maxLength: 8 }),
      counted((specs: KnockSpec[]) => {
        const out = decode(Buffer.concat(specs.map(buildKnock)));
        assert.equal(out.calls, specs.length);
        assert.deepEqual(
          out.events.map((e) => e.event),
          specs.map(expectedEvent),
        );
      }),
    ),
    { numRuns: 10_000 },
  );
});

test('reuseEvent: one object, refilled per packet, holds what a fresh event holds while the handler runs', () => {
  const interfaceName = (ifindex: number) => (ifindex % 3 === 0 ? undefined : `if${ifindex}`);
  const snapshot = (event: KnockEvent) => {
    const { inInterface, ...rest } = event;
    return inInterface === undefined ? rest : { ...rest, inInterface };
  };
  const run = (decoder: NflogDecoder, buf: Uint8Array) => {
    const seen: { events: object[]; objects: Set<KnockEvent>; other: string[] } = { events: [], objects: new Set(), other: [] };
    decoder.decode(buf, 5, {
      event: (event) => {
        seen.events.push(snapshot(event));
        seen.objects.add(event);
      },
      reject: (reason) => seen.other.push(reason),
      control: (kind) => seen.other.push(kind),
    });
    return seen;
  };
  // One decoder per kind for the whole property, as a source keeps one across batches.
  const reusing = new NflogDecoder({ prefix: 'portknock', interfaceName, reuseEvent: true });
  fc.assert(
    fc.property(
      fc.array(knockArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      counted((specs: KnockSpec[], edits: Array<[number, number]>) => {
        const buf = Buffer.concat([...specs.map(buildKnock), doneMessage()]);
        for (const [position, value] of edits) if (position % buf.length >= 4) buf[position % buf.length] = value;
        const fresh = run(new NflogDecoder({ prefix: 'portknock', interfaceName }), buf);
        const reused = run(reusing, buf);
        assert.deepEqual(reused.events, fresh.events);
        assert.deepEqual(reused.other, fresh.other);
        assert.equal(fresh.objects.size, fresh.events.length);
        assert.ok(reused.objects.size <= 1);
      }),
    ),
    { numRuns: 5_000 },
  );
});

test('a batch cut anywhere reports each whole message and one truncation, never throwing', () => {
  fc.assert(
    fc.property(
      fc.array(knockArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      counted((specs: KnockSpec[], cutSeed: number) => {
        const messages = specs.map(buildKnock);
        const whole = Buffer.concat(messages);
        const cut = cutSeed % (whole.length + 1);
        let complete = 0;
        let consumed = 0;
        for (const m of messages) {
          if (consumed + m.length > cut) break;
          consumed += m.length;
          complete++;
        }
        const out = decode(whole.subarray(0, cut));
        assert.equal(out.events.length, complete);
        assert.deepEqual(out.other, cut === consumed ? [] : ['truncated']);
      }),
    ),
    { numRuns: 20_000 },
  );
});

test('mutated packet bytes never throw and give exactly one outcome per message', () => {
  fc.assert(
    fc.property(
      fc.array(knockArb, { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      counted((specs: KnockSpec[], edits: Array<[number, number]>, keepFraming: boolean) => {
        const messages = specs.map(buildKnock);
        const buf = Buffer.concat(messages);
        for (const [position, value] of edits) {
          const at = position % buf.length;
          // Half the runs spare the nlmsg_len fields so the message count is known in advance.
          if (keepFraming) {
            let start = 0;
            let inLength = false;
            for (const m of messages) {
              if (at >= start && at < start + 4) inLength = true;
              start += m.length;
            }
            if (inLength) continue;
          }
          buf[at] = value;
        }
        const out = decode(buf);
        assert.equal(out.calls, keepFraming ? messages.length : messageCount(buf));
      }),
    ),
    { numRuns: 30_000 },
  );
});

test('random bytes never throw and give one outcome per framed message', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 256 }),
      counted((bytes: Uint8Array) => {
        assert.equal(decode(bytes).calls, messageCount(bytes));
      }),
    ),
    { numRuns: 15_000 },
  );
});

test('kernel errors and acks among knocks keep one outcome per message, in order', () => {
  const messageArb = fc.oneof(
    knockArb.map((spec) => ({ buffer: buildKnock(spec), outcome: 'event' })),
    fc.tuple(fc.integer({ min: 1, max: 4095 }), fc.integer({ min: 0, max: 0xffffffff })).map(([errno, sequence]) => ({ buffer: errorMessage(errno, sequence), outcome: 'nlmsg-error' })),
    fc.integer({ min: 0, max: 0xffffffff }).map((sequence) => ({ buffer: errorMessage(0, sequence), outcome: 'ack' })),
    fc.constant({ buffer: doneMessage(), outcome: 'done' }),
  );
  fc.assert(
    fc.property(
      fc.array(messageArb, { minLength: 1, maxLength: 8 }),
      counted((messages: Array<{ buffer: Buffer; outcome: string }>) => {
        const out = decode(Buffer.concat(messages.map((m) => m.buffer)));
        const outcomes = [...out.other];
        assert.equal(out.calls, messages.length);
        assert.deepEqual(
          messages.filter((m) => m.outcome !== 'event').map((m) => m.outcome),
          outcomes,
        );
      }),
    ),
    { numRuns: 2_000 },
  );
});

test('the fuzz cases reach an event and every reject reason of the decoder', () => {
  const seconds = (Date.now() - started) / 1000;
  console.log(`nflog fuzz: ${cases} cases in ${seconds.toFixed(1)} s`);
  // A generator that stopped producing some shape of input would leave its branch untested silently.
  const missing = ['event', ...nflogRejectReasons].filter((outcome) => !reached.has(outcome));
  assert.deepEqual(missing, [], `never reached by ${cases} fuzz cases`);
});
