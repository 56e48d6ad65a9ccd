/**
 * Builds the bytes the kernel's nfnetlink_log sends, independently of the decoder (no imports from
 * src/decode), so a decoder bug cannot hide behind a shared mistake.
 */
const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function hostU16(value: number): Buffer {
  const b = Buffer.alloc(2);
  if (little) b.writeUInt16LE(value);
  else b.writeUInt16BE(value);
  return b;
}

function hostU32(value: number): Buffer {
  const b = Buffer.alloc(4);
  if (little) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

function be16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function be32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

export const Attr = { PACKET_HDR: 1, MARK: 2, TIMESTAMP: 3, IFINDEX_INDEV: 4, PAYLOAD: 9, PREFIX: 10, SEQ: 12 } as const;

/** One nlattr, padded to 4 bytes. `lengthOverride` lets tests lie about nla_len. */
export function attribute(type: number, data: Uint8Array, lengthOverride?: number): Buffer {
  return Buffer.concat([hostU16(lengthOverride ?? 4 + data.length), hostU16(type), data, Buffer.alloc(pad4(data.length))]);
}

export function nlmsg(type: number, body: Uint8Array, options: { flags?: number; sequence?: number; lengthOverride?: number } = {}): Buffer {
  const length = 16 + body.length;
  return Buffer.concat([
    hostU32(options.lengthOverride ?? length),
    hostU16(type),
    hostU16(options.flags ?? 0),
    hostU32(options.sequence ?? 0),
    hostU32(0),
    body,
    Buffer.alloc(pad4(length)),
  ]);
}

export function nfgenmsg(family: number, group: number, version = 0): Buffer {
  return Buffer.concat([Buffer.of(family, version), be16(group)]);
}

export interface PacketMessageSpec {
  family?: number;
  group?: number;
  prefix?: string | Uint8Array | null;
  /** Epoch seconds and microseconds; null leaves NFULA_TIMESTAMP out. */
  timestamp?: { sec: number; usec: number } | null;
  ifindex?: number | null;
  hwProtocol?: number | null;
  payload?: Uint8Array | null;
  /** Attributes appended after the standard ones (unknown types, duplicates...). */
  extra?: Buffer[];
}

export const NFLOG_PACKET = (4 << 8) | 0;

export function packetMessage(spec: PacketMessageSpec): Buffer {
  const family = spec.family ?? 2;
  const attrs: Buffer[] = [];
  if (spec.hwProtocol !== null) {
    attrs.push(attribute(Attr.PACKET_HDR, Buffer.concat([be16(spec.hwProtocol ?? (family === 10 ? 0x86dd : 0x0800)), Buffer.of(1, 0)])));
  }
  if (spec.timestamp !== null && spec.timestamp !== undefined) {
    const { sec, usec } = spec.timestamp;
    attrs.push(attribute(Attr.TIMESTAMP, Buffer.concat([be32(Math.floor(sec / 2 ** 32)), be32(sec % 2 ** 32), be32(0), be32(usec)])));
  }
  if (spec.ifindex !== null) attrs.push(attribute(Attr.IFINDEX_INDEV, be32(spec.ifindex ?? 2)));
  if (spec.payload !== null && spec.payload !== undefined) attrs.push(attribute(Attr.PAYLOAD, spec.payload));
  if (spec.prefix !== null) {
    const prefix = spec.prefix ?? 'portknock';
    attrs.push(attribute(Attr.PREFIX, typeof prefix === 'string' ? Buffer.concat([Buffer.from(prefix), Buffer.of(0)]) : prefix));
  }
  attrs.push(...(spec.extra ?? []));
  return nlmsg(NFLOG_PACKET, Buffer.concat([nfgenmsg(family, spec.group ?? 5), ...attrs]));
}

export function errorMessage(errno: number, requestSequence: number): Buffer {
  const request = nlmsg((4 << 8) | 1, Buffer.alloc(0), { sequence: requestSequence });
  return nlmsg(2, Buffer.concat([hostU32(-errno), request.subarray(0, 16)]), { sequence: requestSequence });
}

export function doneMessage(): Buffer {
  return nlmsg(3, Buffer.alloc(4));
}

// --- packets --------------------------------------------------------------------------------

export function ipv4Bytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function ipv6Bytes(text: string): Buffer {
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Buffer.concat(groups.map(be16));
}

export interface TransportSpec {
  protocol: 'tcp' | 'udp';
  sourcePort?: number;
  port: number;
  tcpFlags?: number;
  /** TCP data offset in 32-bit words; 5 unless a test wants a broken one. */
  dataOffset?: number;
  payload?: Uint8Array;
}

export function transportBytes(spec: TransportSpec): Buffer {
  if (spec.protocol === 'udp') {
    const data = spec.payload ?? Buffer.alloc(0);
    return Buffer.concat([be16(spec.sourcePort ?? 40000), be16(spec.port), be16(8 + data.length), be16(0), data]);
  }
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(spec.sourcePort ?? 40000, 0);
  tcp.writeUInt16BE(spec.port, 2);
  tcp.writeUInt32BE(1, 4);
  tcp[12] = (spec.dataOffset ?? 5) << 4;
  tcp[13] = spec.tcpFlags ?? 0x02;
  tcp.writeUInt16BE(64240, 14);
  return Buffer.concat([tcp, spec.payload ?? Buffer.alloc(0)]);
}

export interface IPv4Spec {
  source: string;
  destination: string;
  protocol?: number;
  transport: Uint8Array;
  /** 32-bit option words after the 20-byte header. */
  optionWords?: number;
  fragmentOffset?: number;
  moreFragments?: boolean;
  totalLengthOverride?: number;
  ihlOverride?: number;
}

export function ipv4Packet(spec: IPv4Spec): Buffer {
  const words = 5 + (spec.optionWords ?? 0);
  const header = Buffer.alloc(words * 4);
  header[0] = 0x40 | (spec.ihlOverride ?? words);
  header.writeUInt16BE(spec.totalLengthOverride ?? header.length + spec.transport.length, 2);
  header.writeUInt16BE(((spec.moreFragments ? 1 : 0) << 13) | (spec.fragmentOffset ?? 0), 6);
  header[8] = 64;
  header[9] = spec.protocol ?? 6;
  ipv4Bytes(spec.source).copy(header, 12);
  ipv4Bytes(spec.destination).copy(header, 16);
  for (let i = 20; i < header.length; i++) header[i] = 1; // NOP options
  return Buffer.concat([header, spec.transport]);
}

export interface ExtensionHeader {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH. */
  type: number;
  /** For 0/43/60: 8-byte units beyond the first; for 51: 4-byte units beyond the first two. */
  lengthUnits?: number;
  fragmentOffset?: number;
}

export interface IPv6Spec {
  source: string;
  destination: string;
  /** Next header after the extension chain; defaults to the transport's protocol. */
  protocol: number;
  extensions?: ExtensionHeader[];
  transport: Uint8Array;
  payloadLengthOverride?: number;
}

export function ipv6Packet(spec: IPv6Spec): Buffer {
  const chain = spec.extensions ?? [];
  const parts: Buffer[] = [];
  chain.forEach((ext, i) => {
    const next = i + 1 < chain.length ? (chain[i + 1] as ExtensionHeader).type : spec.protocol;
    let body: Buffer;
    if (ext.type === 44) {
      body = Buffer.alloc(8);
      body.writeUInt16BE((ext.fragmentOffset ?? 0) << 3, 2);
    } else if (ext.type === 51) {
      body = Buffer.alloc(((ext.lengthUnits ?? 1) + 2) * 4);
      body[1] = ext.lengthUnits ?? 1;
    } else {
      body = Buffer.alloc(((ext.lengthUnits ?? 0) + 1) * 8);
      body[1] = ext.lengthUnits ?? 0;
    }
    body[0] = next;
    parts.push(body);
  });
  const rest = Buffer.concat([...parts, spec.transport]);
  const header = Buffer.alloc(40);
  header[0] = 0x60;
  header.writeUInt16BE(spec.payloadLengthOverride ?? rest.length, 4);
  header[6] = chain.length > 0 ? (chain[0] as ExtensionHeader).type : spec.protocol;
  header[7] = 64;
  ipv6Bytes(spec.source).copy(header, 8);
  ipv6Bytes(spec.destination).copy(header, 24);
  return Buffer.concat([header, rest]);
}
