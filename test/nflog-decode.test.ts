import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNflogBatch, type NflogBatchHandler } from '../src/decode/nflog.js';
import { buildNflogConfigMessages, buildNflogTimeoutMessage, buildNflogUnbindMessage, decodeNetlinkReplies } from '../src/sources/nflog-requests.js';
import type { KnockEvent } from '../src/core/types.js';
import { NfknockError } from '../src/core/errors.js';
import {
  Attr,
  attribute,
  doneMessage,
  errorMessage,
  ipv4Packet,
  ipv6Packet,
  nlmsg,
  nfgenmsg,
  NFLOG_PACKET,
  packetMessage,
  transportBytes,
} from './helpers/nflog-builder.js';

type Outcome =
  | { kind: 'event'; event: KnockEvent; ifindex: number }
  | { kind: 'reject'; reason: string; errno: number; sequence: number }
  | { kind: 'control'; control: string; sequence: number };

function decode(buf: Uint8Array, prefix = 'portknock', receivedAt = 1_700_000_000_000): Outcome[] {
  const out: Outcome[] = [];
  const handler: NflogBatchHandler = {
    event: (event, ifindex) => out.push({ kind: 'event', event, ifindex }),
    reject: (reason, errno, sequence) => out.push({ kind: 'reject', reason, errno, sequence }),
    control: (control, sequence) => out.push({ kind: 'control', control, sequence }),
  };
  decodeNflogBatch(buf, { prefix, receivedAt }, handler);
  return out;
}

function reasons(buf: Uint8Array, prefix?: string): string[] {
  return decode(buf, prefix).map((o) => (o.kind === 'event' ? 'event' : o.kind === 'reject' ? o.reason : o.control));
}

const v4udp = (port = 7000) =>
  ipv4Packet({ source: '192.0.2.10', destination: '198.51.100.1', protocol: 17, transport: transportBytes({ protocol: 'udp', port }) });
const v4tcp = (port = 7000, tcpFlags = 0x02) =>
  ipv4Packet({ source: '192.0.2.10', destination: '198.51.100.1', protocol: 6, transport: transportBytes({ protocol: 'tcp', port, tcpFlags }) });
const v6tcp = (extensions: Parameters<typeof ipv6Packet>[0]['extensions'] = []) =>
  ipv6Packet({
    source: '2001:db8::10',
    destination: '2001:db8:0:1::1',
    protocol: 6,
    extensions,
    transport: transportBytes({ protocol: 'tcp', port: 8000, tcpFlags: 0x12 }),
  });

test('an IPv4 UDP knock yields every field, with the kernel timestamp in epoch ms', () => {
  const buf = packetMessage({ payload: v4udp(7000), ifindex: 3, timestamp: { sec: 1_700_000_123, usec: 456_789 } });
  assert.deepEqual(decode(buf), [
    {
      kind: 'event',
      ifindex: 3,
      event: { source: '192.0.2.10', family: 4, destination: '198.51.100.1', protocol: 'udp', port: 7000, tcpFlags: 0, at: 1_700_000_123_456 },
    },
  ]);
});

test('an IPv4 TCP knock reports the flags byte and the destination port', () => {
  const buf = packetMessage({ payload: v4tcp(65535, 0x29), timestamp: { sec: 1, usec: 999_999 } });
  const [o] = decode(buf);
  assert.equal(o?.kind, 'event');
  if (o?.kind !== 'event') return;
  assert.equal(o.event.protocol, 'tcp');
  assert.equal(o.event.port, 65535);
  assert.equal(o.event.tcpFlags, 0x29);
  assert.equal(o.event.at, 1999);
});

test('IPv4 options are skipped using IHL', () => {
  const payload = ipv4Packet({ source: '10.0.0.1', destination: '10.0.0.2', protocol: 17, optionWords: 3, transport: transportBytes({ protocol: 'udp', port: 1234 }) });
  const [o] = decode(packetMessage({ payload }));
  assert.equal(o?.kind === 'event' && o.event.port, 1234);
});

test('without NFULA_TIMESTAMP the receive time is used', () => {
  const [o] = decode(packetMessage({ payload: v4udp(), timestamp: null }), 'portknock', 42);
  assert.equal(o?.kind === 'event' && o.event.at, 42);
});

test('without NFULA_IFINDEX_INDEV the ifindex is 0', () => {
  const [o] = decode(packetMessage({ payload: v4udp(), ifindex: null }));
  assert.equal(o?.kind === 'event' && o.ifindex, 0);
});

test('a timestamp beyond exact millisecond range or with usec >= 10^6 is rejected', () => {
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), timestamp: { sec: 2 ** 48, usec: 0 } })), ['bad-timestamp']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), timestamp: { sec: 1, usec: 1_000_000 } })), ['bad-timestamp']);
});

test('an IPv6 TCP knock through every extension header type', () => {
  const payload = v6tcp([
    { type: 0, lengthUnits: 1 },
    { type: 43 },
    { type: 44, fragmentOffset: 0 },
    { type: 51, lengthUnits: 4 },
    { type: 60, lengthUnits: 2 },
  ]);
  assert.deepEqual(decode(packetMessage({ family: 10, payload, ifindex: 7, timestamp: { sec: 10, usec: 1000 } })), [
    {
      kind: 'event',
      ifindex: 7,
      event: { source: '2001:db8::10', family: 6, destination: '2001:db8:0:1::1', protocol: 'tcp', port: 8000, tcpFlags: 0x12, at: 10_001 },
    },
  ]);
});

test('an IPv6 UDP knock', () => {
  const payload = ipv6Packet({ source: 'fe80::1', destination: 'fd00::2', protocol: 17, transport: transportBytes({ protocol: 'udp', port: 9 }) });
  const [o] = decode(packetMessage({ family: 10, payload }));
  assert.deepEqual(o?.kind === 'event' && [o.event.source, o.event.destination, o.event.protocol, o.event.port, o.event.family], ['fe80::1', 'fd00::2', 'udp', 9, 6]);
});

test('the L3 family comes from hw_protocol, else from nfgenmsg', () => {
  const [a] = decode(packetMessage({ family: 0, hwProtocol: 0x86dd, payload: v6tcp() }));
  assert.equal(a?.kind === 'event' && a.event.family, 6);
  const [b] = decode(packetMessage({ family: 10, hwProtocol: null, payload: v6tcp() }));
  assert.equal(b?.kind === 'event' && b.event.family, 6);
  assert.deepEqual(reasons(packetMessage({ family: 7, hwProtocol: null, payload: v4udp() })), ['not-ip']);
  assert.deepEqual(reasons(packetMessage({ hwProtocol: 0x0806, payload: v4udp() })), ['not-ip']);
  assert.deepEqual(reasons(packetMessage({ hwProtocol: 0x86dd, payload: v4udp() })), ['bad-ip-header']);
});

test('several messages in one recv, including NLMSG_DONE, are each reported once and in order', () => {
  const buf = Buffer.concat([
    packetMessage({ payload: v4udp(1) }),
    packetMessage({ payload: v4udp(2), prefix: 'other' }),
    packetMessage({ family: 10, payload: v6tcp() }),
    doneMessage(),
  ]);
  assert.deepEqual(reasons(buf), ['event', 'prefix-mismatch', 'event', 'done']);
  const ports = decode(buf).flatMap((o) => (o.kind === 'event' ? [o.event.port] : []));
  assert.deepEqual(ports, [1, 8000]);
});

test('the prefix must match exactly', () => {
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: 'portknock2' })), ['prefix-mismatch']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: 'portknoc' })), ['prefix-mismatch']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: 'Portknock' })), ['prefix-mismatch']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: null })), ['prefix-mismatch']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: '' }), ''), ['event']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: null }), ''), ['event']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: Buffer.from('portknock') })), ['bad-attribute']);
  // Bytes after the NUL (kernel padding) do not count.
  assert.deepEqual(reasons(packetMessage({ payload: v4udp(), prefix: Buffer.from('portknock\0junk') })), ['event']);
});

test('non-first fragments are rejected, first fragments accepted', () => {
  const frag4 = ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 17, fragmentOffset: 3, transport: transportBytes({ protocol: 'udp', port: 1 }) });
  assert.deepEqual(reasons(packetMessage({ payload: frag4 })), ['fragment']);
  const first4 = ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 17, moreFragments: true, transport: transportBytes({ protocol: 'udp', port: 1 }) });
  assert.deepEqual(reasons(packetMessage({ payload: first4 })), ['event']);
  assert.deepEqual(reasons(packetMessage({ family: 10, payload: v6tcp([{ type: 44, fragmentOffset: 5 }]) })), ['fragment']);
});

test('protocols that are not TCP/UDP, ESP and no-next-header are rejected', () => {
  const icmp = ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 1, transport: Buffer.alloc(8) });
  assert.deepEqual(reasons(packetMessage({ payload: icmp })), ['not-tcp-udp']);
  for (const protocol of [50, 59, 58]) {
    const payload = ipv6Packet({ source: '::1', destination: '::2', protocol, transport: Buffer.alloc(16) });
    assert.deepEqual(reasons(packetMessage({ family: 10, payload })), ['not-tcp-udp'], `next header ${protocol}`);
  }
});

test('broken IP headers are rejected as bad-ip-header', () => {
  const t = transportBytes({ protocol: 'udp', port: 1 });
  const cases: Buffer[] = [
    ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 17, ihlOverride: 4, transport: t }),
    ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 17, totalLengthOverride: 19, transport: t }),
    ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 17, totalLengthOverride: 24, transport: t }),
    ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 6, totalLengthOverride: 30, transport: transportBytes({ protocol: 'tcp', port: 1 }) }),
  ];
  for (const payload of cases) assert.deepEqual(reasons(packetMessage({ payload })), ['bad-ip-header']);
  const wrongVersion = Buffer.from(v4udp());
  wrongVersion[0] = 0x55;
  assert.deepEqual(reasons(packetMessage({ payload: wrongVersion })), ['bad-ip-header']);
  const v6 = (payloadLengthOverride: number, extensions: Parameters<typeof ipv6Packet>[0]['extensions'] = []) =>
    packetMessage({ family: 10, payload: ipv6Packet({ source: '::1', destination: '::2', protocol: 17, extensions, payloadLengthOverride, transport: t }) });
  assert.deepEqual(reasons(v6(0)), ['bad-ip-header']);
  assert.deepEqual(reasons(v6(4)), ['bad-ip-header']);
  assert.deepEqual(reasons(v6(10, [{ type: 60, lengthUnits: 1 }])), ['bad-ip-header']);
});

test('a TCP data offset below 5 words is rejected', () => {
  const payload = ipv4Packet({ source: '1.2.3.4', destination: '5.6.7.8', protocol: 6, transport: transportBytes({ protocol: 'tcp', port: 1, dataOffset: 4 }) });
  assert.deepEqual(reasons(packetMessage({ payload })), ['bad-tcp-header']);
});

test('a payload cut by the copy range still decodes when the ports and flags are inside it', () => {
  const full = v4tcp(4444, 0x02);
  assert.deepEqual(reasons(packetMessage({ payload: full.subarray(0, 20 + 14) })), ['event']);
  assert.deepEqual(reasons(packetMessage({ payload: full.subarray(0, 20 + 13) })), ['truncated']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp().subarray(0, 24) })), ['event']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp().subarray(0, 23) })), ['truncated']);
  assert.deepEqual(reasons(packetMessage({ payload: v4udp().subarray(0, 19) })), ['truncated']);
  const v6 = v6tcp([{ type: 60, lengthUnits: 4 }]);
  assert.deepEqual(reasons(packetMessage({ family: 10, payload: v6.subarray(0, 39) })), ['truncated']);
  assert.deepEqual(reasons(packetMessage({ family: 10, payload: v6.subarray(0, 41) })), ['truncated']);
  assert.deepEqual(reasons(packetMessage({ family: 10, payload: v6.subarray(0, 40 + 40 + 13) })), ['truncated']);
  assert.deepEqual(reasons(packetMessage({ family: 10, payload: v6.subarray(0, 40 + 40 + 14) })), ['event']);
});

test('a copy-meta group (no payload) is rejected as no-payload', () => {
  assert.deepEqual(reasons(packetMessage({ payload: null })), ['no-payload']);
});

test('broken attributes and framing are rejected, never thrown', () => {
  const withBadAttr = (a: Buffer) => nlmsg(NFLOG_PACKET, Buffer.concat([nfgenmsg(2, 5), a]));
  assert.deepEqual(reasons(withBadAttr(attribute(Attr.PAYLOAD, Buffer.alloc(8), 3))), ['bad-attribute']);
  assert.deepEqual(reasons(withBadAttr(attribute(Attr.PAYLOAD, Buffer.alloc(8), 200))), ['truncated']);
  assert.deepEqual(reasons(withBadAttr(attribute(Attr.TIMESTAMP, Buffer.alloc(8)))), ['bad-attribute']);
  assert.deepEqual(reasons(withBadAttr(attribute(Attr.IFINDEX_INDEV, Buffer.alloc(2)))), ['bad-attribute']);
  assert.deepEqual(reasons(withBadAttr(attribute(Attr.PACKET_HDR, Buffer.alloc(2)))), ['bad-attribute']);
  assert.deepEqual(reasons(nlmsg(NFLOG_PACKET, Buffer.alloc(2))), ['truncated']);
  assert.deepEqual(reasons(nlmsg(NFLOG_PACKET, nfgenmsg(2, 5, 1))), ['bad-message']);
  const good = packetMessage({ payload: v4udp() });
  assert.deepEqual(reasons(good.subarray(0, 10)), ['truncated']);
  assert.deepEqual(reasons(good.subarray(0, good.length - 4)), ['truncated']);
  assert.deepEqual(reasons(Buffer.concat([good, Buffer.alloc(3)])), ['event', 'truncated']);
  assert.deepEqual(reasons(nlmsg(NFLOG_PACKET, Buffer.alloc(0), { lengthOverride: 8 })), ['truncated']);
  assert.deepEqual(reasons(Buffer.alloc(0)), []);
});

test('nested/byte-order flag bits on attribute types are masked', () => {
  const payload = v4udp(77);
  const flagged = nlmsg(
    NFLOG_PACKET,
    Buffer.concat([nfgenmsg(2, 5), attribute(Attr.PAYLOAD | 0x8000, payload), attribute(Attr.PREFIX | 0x4000, Buffer.from('portknock\0'))]),
  );
  const [o] = decode(flagged);
  assert.equal(o?.kind === 'event' && o.event.port, 77);
});

test('unknown attributes are ignored', () => {
  const buf = packetMessage({ payload: v4udp(), extra: [attribute(Attr.MARK, Buffer.alloc(4)), attribute(99, Buffer.alloc(7))] });
  assert.deepEqual(reasons(buf), ['event']);
});

test('netlink errors, acks, noop, overrun and unknown types are reported, not thrown', () => {
  const buf = Buffer.concat([
    errorMessage(105, 9),
    errorMessage(0, 10),
    nlmsg(1, Buffer.alloc(0)),
    nlmsg(4, Buffer.alloc(0)),
    nlmsg(0x999, Buffer.alloc(0)),
    nlmsg(2, Buffer.alloc(2)),
  ]);
  assert.deepEqual(decode(buf), [
    { kind: 'reject', reason: 'nlmsg-error', errno: 105, sequence: 9 },
    { kind: 'control', control: 'ack', sequence: 10 },
    { kind: 'control', control: 'noop', sequence: 0 },
    { kind: 'control', control: 'overrun', sequence: 0 },
    { kind: 'reject', reason: 'unknown-message', errno: 0, sequence: 0 },
    { kind: 'reject', reason: 'truncated', errno: 0, sequence: 0 },
  ]);
});

test('decodeNetlinkReplies returns ACKs and errors with their request sequence', () => {
  const buf = Buffer.concat([errorMessage(0, 1), packetMessage({ payload: v4udp() }), errorMessage(1, 2), errorMessage(16, 3)]);
  assert.deepEqual(decodeNetlinkReplies(buf), [
    { sequence: 1, errno: 0 },
    { sequence: 2, errno: 1 },
    { sequence: 3, errno: 16 },
  ]);
});

function hostU32At(b: Buffer, o: number): number {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? b.readUInt32LE(o) : b.readUInt32BE(o);
}
function hostU16At(b: Buffer, o: number): number {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? b.readUInt16LE(o) : b.readUInt16BE(o);
}

/** Attributes of a config request as [type, data bytes]. */
function configAttributes(message: Buffer): Array<[number, number[]]> {
  const out: Array<[number, number[]]> = [];
  for (let p = 20; p + 4 <= message.length; ) {
    const length = hostU16At(message, p);
    out.push([hostU16At(message, p + 2), [...message.subarray(p + 4, p + length)]]);
    p += (length + 3) & ~3;
  }
  return out;
}

test('config messages bind the group, then set copy mode, batching and flags, each asking for an ACK', () => {
  const messages = buildNflogConfigMessages({ group: 5, copyRange: 128, qthreshold: 16, timeoutCentiseconds: 2, flags: 1, bufferBytes: 65536, firstSequence: 40 });
  assert.equal(messages.length, 2);
  const [bind, settings] = messages as [Buffer, Buffer];
  for (const [i, m] of messages.entries()) {
    assert.equal(hostU32At(m, 0), m.length);
    assert.equal(hostU16At(m, 4), 0x0401);
    assert.equal(hostU16At(m, 6), 0x1 | 0x4);
    assert.equal(hostU32At(m, 8), 40 + i);
    assert.deepEqual([...m.subarray(16, 20)], [0, 0, 0, 5]);
  }
  assert.deepEqual(configAttributes(bind), [[1, [1]]]);
  assert.deepEqual(configAttributes(settings), [
    [2, [0, 0, 0, 128, 2, 0]],
    [5, [0, 0, 0, 16]],
    [4, [0, 0, 0, 2]],
    [6, [0, 1]],
    [3, [0, 1, 0, 0]],
  ]);
});

test('PF unbind/bind for AF_INET and AF_INET6 come first when asked for', () => {
  const messages = buildNflogConfigMessages({ group: 300, copyRange: 128, qthreshold: 1, timeoutCentiseconds: 0, flags: 0, bindProtocolFamilies: true });
  assert.equal(messages.length, 6);
  const summary = messages.slice(0, 4).map((m) => [m[16], configAttributes(m)[0]?.[1][0]]);
  assert.deepEqual(summary, [
    [2, 4],
    [2, 3],
    [10, 4],
    [10, 3],
  ]);
  assert.deepEqual([...(messages[4] as Buffer).subarray(18, 20)], [1, 44]);
});

test('the unbind message releases the group', () => {
  const m = buildNflogUnbindMessage(7, 99);
  assert.equal(hostU32At(m, 8), 99);
  assert.deepEqual([...m.subarray(18, 20)], [0, 7]);
  assert.deepEqual(configAttributes(m), [[1, [2]]]);
});

test('the flush timeout message changes only the timeout of the group, asking for an ACK', () => {
  const m = buildNflogTimeoutMessage(7, 5, 99);
  assert.equal(hostU32At(m, 0), m.length);
  assert.equal(hostU16At(m, 4), 0x0401);
  assert.equal(hostU16At(m, 6), 0x1 | 0x4);
  assert.equal(hostU32At(m, 8), 99);
  assert.deepEqual([...m.subarray(18, 20)], [0, 7]);
  assert.deepEqual(configAttributes(m), [[4, [0, 0, 0, 5]]]);
  assert.throws(() => buildNflogTimeoutMessage(7, -1, 1), (e: unknown) => e instanceof NfknockError && e.code === 'NFK_CONFIG_INVALID');
});

test('invalid config values are refused with NFK_CONFIG_INVALID', () => {
  const base = { group: 5, copyRange: 128, qthreshold: 1, timeoutCentiseconds: 0, flags: 0 };
  for (const bad of [{ group: 65536 }, { group: -1 }, { group: 1.5 }, { copyRange: 0 }, { copyRange: 70000 }, { qthreshold: 0 }, { timeoutCentiseconds: -1 }, { flags: 0x10000 }]) {
    assert.throws(
      () => buildNflogConfigMessages({ ...base, ...bad }),
      (e: unknown) => e instanceof NfknockError && e.code === 'NFK_CONFIG_INVALID',
      JSON.stringify(bad),
    );
  }
});
