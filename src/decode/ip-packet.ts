import type { KnockEvent } from '../core/types.js';
import type { NflogRejectReason } from '../core/reject-reasons.js';
import { ipv4Text } from './ipv4-text.js';
import { ipv6Text } from './ipv6-text.js';

/**
 * The IP packet inside an NFLOG message (NFULA_PAYLOAD, cut at the copy range) → a KnockEvent or a
 * reject reason. Pure; the NFLOG decoder owns the per-source state passed in as PacketFields.
 */

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

function beU16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

function beU32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

/**
 * A server knocks on one or two of its own addresses: reuse the last destination's string instead of
 * building one per packet (a flood's every packet carries the same destination).
 */
export class DestinationStrings {
  private last4 = -1;
  private last4Text = '';
  private readonly last6 = new Uint8Array(16);
  private last6Text = '';

  ipv4(b: Uint8Array, o: number): string {
    const key = beU32(b, o);
    if (key !== this.last4) {
      this.last4Text = ipv4Text(b, o);
      this.last4 = key;
    }
    return this.last4Text;
  }

  ipv6(b: Uint8Array, o: number): string {
    let same = this.last6Text !== '';
    for (let i = 0; same && i < 16; i++) same = b[o + i] === this.last6[i];
    if (!same) {
      this.last6Text = ipv6Text(b, o);
      this.last6.set(b.subarray(o, o + 16));
    }
    return this.last6Text;
  }
}

/** What a packet's event takes from outside its IP header. */
export interface PacketFields {
  at: number;
  inInterface: string | undefined;
  destinations: DestinationStrings;
  /** The one event refilled for every packet, with `reuseEvent`. */
  event: ReusedEvent | undefined;
}

/** A KnockEvent whose `inInterface` is always present, so that every refill keeps one hidden class. */
type ReusedEvent = Required<Omit<KnockEvent, 'inInterface'>> & { inInterface: string | undefined };

export function blankEvent(): ReusedEvent {
  // `at` starts as a non-integer so that V8 stores it as a double from the start and refills it in place.
  return { source: '', family: 4, destination: '', protocol: 'tcp', port: 0, tcpFlags: 0, inInterface: undefined, at: 0.5 };
}

/** Bytes of the transport header we must see: TCP up to its flags byte, UDP its two ports. */
const TCP_NEEDED = 14;
const UDP_NEEDED = 4;

export function decodeIPv4(b: Uint8Array, start: number, captured: number, fields: PacketFields): KnockEvent | NflogRejectReason {
  if (captured < 1) return 'truncated';
  const first = b[start] as number;
  if (first >> 4 !== 4) return 'bad-ip-header';
  if (captured < 20) return 'truncated';
  const headerLength = (first & 0x0f) * 4;
  const totalLength = beU16(b, start + 2);
  if (headerLength < 20 || totalLength < headerLength) return 'bad-ip-header';
  if ((beU16(b, start + 6) & 0x1fff) !== 0) return 'fragment';
  // The copy range may cut the packet short; trailing link padding may make it longer.
  const available = (captured < totalLength ? captured : totalLength) - headerLength;
  const declared = totalLength - headerLength;
  const protocol = b[start + 9] as number;
  const l4 = start + headerLength;
  if (protocol === IPPROTO_TCP) {
    if (declared < 20) return 'bad-ip-header';
    if (available < TCP_NEEDED) return 'truncated';
    if ((b[l4 + 12] as number) >> 4 < 5) return 'bad-tcp-header';
    return knockEvent(ipv4Text(b, start + 12), 4, fields.destinations.ipv4(b, start + 16), 'tcp', beU16(b, l4 + 2), (b[l4 + 13] as number) & 0x3f, fields);
  }
  if (protocol === IPPROTO_UDP) {
    if (declared < 8) return 'bad-ip-header';
    if (available < UDP_NEEDED) return 'truncated';
    return knockEvent(ipv4Text(b, start + 12), 4, fields.destinations.ipv4(b, start + 16), 'udp', beU16(b, l4 + 2), 0, fields);
  }
  return 'not-tcp-udp';
}

/** A new event, built once and never changed afterwards; or, with `reuseEvent`, the one event refilled. */
function knockEvent(source: string, family: 4 | 6, destination: string, protocol: 'tcp' | 'udp', port: number, tcpFlags: number, fields: PacketFields): KnockEvent {
  const event = fields.event;
  if (event !== undefined) {
    event.source = source;
    event.family = family;
    event.destination = destination;
    event.protocol = protocol;
    event.port = port;
    event.tcpFlags = tcpFlags;
    event.inInterface = fields.inInterface;
    event.at = fields.at;
    return event;
  }
  const { at, inInterface } = fields;
  return inInterface === undefined ? { source, family, destination, protocol, port, tcpFlags, at } : { source, family, destination, protocol, port, tcpFlags, at, inInterface };
}

export function decodeIPv6(b: Uint8Array, start: number, captured: number, fields: PacketFields): KnockEvent | NflogRejectReason {
  if (captured < 1) return 'truncated';
  if ((b[start] as number) >> 4 !== 6) return 'bad-ip-header';
  if (captured < 40) return 'truncated';
  const payloadLength = beU16(b, start + 4);
  // A zero payload length means a jumbogram, which never carries a knock.
  if (payloadLength === 0) return 'bad-ip-header';
  const declaredEnd = start + 40 + payloadLength;
  const capturedEnd = start + captured < declaredEnd ? start + captured : declaredEnd;
  let next = b[start + 6] as number;
  let p = start + 40;
  for (;;) {
    if (next === IPPROTO_TCP || next === IPPROTO_UDP) break;
    if (next === 0 || next === 43 || next === 60 || next === 51) {
      if (capturedEnd - p < 2) return p + 2 > declaredEnd ? 'bad-ip-header' : 'truncated';
      const length = next === 51 ? ((b[p + 1] as number) + 2) * 4 : ((b[p + 1] as number) + 1) * 8;
      next = b[p] as number;
      p += length;
    } else if (next === 44) {
      if (capturedEnd - p < 8) return p + 8 > declaredEnd ? 'bad-ip-header' : 'truncated';
      if (beU16(b, p + 2) >> 3 !== 0) return 'fragment';
      next = b[p] as number;
      p += 8;
    } else {
      // ESP hides the ports, 59 says nothing follows, anything else is not a knock.
      return 'not-tcp-udp';
    }
    if (p > declaredEnd) return 'bad-ip-header';
  }
  const declared = declaredEnd - p;
  const available = capturedEnd - p;
  if (next === IPPROTO_TCP) {
    if (declared < 20) return 'bad-ip-header';
    if (available < TCP_NEEDED) return 'truncated';
    if ((b[p + 12] as number) >> 4 < 5) return 'bad-tcp-header';
    return knockEvent(ipv6Text(b, start + 8), 6, fields.destinations.ipv6(b, start + 24), 'tcp', beU16(b, p + 2), (b[p + 13] as number) & 0x3f, fields);
  }
  if (declared < 8) return 'bad-ip-header';
  if (available < UDP_NEEDED) return 'truncated';
  return knockEvent(ipv6Text(b, start + 8), 6, fields.destinations.ipv6(b, start + 24), 'udp', beU16(b, p + 2), 0, fields);
}
