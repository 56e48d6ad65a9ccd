/**
 * The in-process workloads: NFLOG batches laid out as nfnetlink_log sends them and netfilter LOG
 * lines as nf_log_syslog writes them, for a flood of one-packet scanners from random sources with a
 * few real knock sequences mixed in. Deterministic (seeded), so two runs measure the same input.
 */
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/core/types.js';

/** The door every bench (in-process and end to end) uses; the flood hits its first port. */
export const BENCH_PORTS = [7000, 8000, 9000] as const;
export const SERVICE_PORT = 2222;

export function benchConfText(startCommand: string, stopCommand: string): string {
  return [
    '[openSSH]',
    `    sequence      = ${BENCH_PORTS.join(',')}`,
    '    seq_timeout   = 5',
    `    start_command = ${startCommand}`,
    '    cmd_timeout   = 10',
    `    stop_command  = ${stopCommand}`,
    '',
    // A second door, so the matcher does the per-door work it does on a real server.
    '[openHTTPS]',
    '    sequence      = 7100:udp,7200:tcp,7300:udp',
    '    seq_timeout   = 5',
    '    start_command = true',
    '',
  ].join('\n');
}

export function benchConfig(): Config {
  return parseConfig(benchConfText('true', 'true'), 'bench.conf');
}

/** What one packet of the mix is. */
export interface MixPacket {
  family: 4 | 6;
  source: Uint8Array;
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface MixSummary {
  packets: number;
  scannersFirstPort: number;
  scannersOtherPorts: number;
  sequencePackets: number;
  ipv6: number;
}

/** xorshift32: fast, seeded, good enough to spread addresses. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * The mix, per 1000 packets: 3 full real sequences (9 packets, each from one of 64 real knockers,
 * spread over the next few hundred packets), 50 scanners on other knock ports, the rest one-packet
 * SYN scanners at the first knock port, all from random sources; 10% of scanners are IPv6.
 */
export function buildMix(count: number, seed = 0x5eed): { packets: MixPacket[]; summary: MixSummary } {
  const next = rng(seed);
  const packets: (MixPacket | undefined)[] = new Array<MixPacket | undefined>(count);
  const summary: MixSummary = { packets: count, scannersFirstPort: 0, scannersOtherPorts: 0, sequencePackets: 0, ipv6: 0 };
  const otherPorts: [number, 'tcp' | 'udp'][] = [
    [8000, 'tcp'],
    [9000, 'tcp'],
    [7100, 'udp'],
    [7200, 'tcp'],
    [7300, 'udp'],
  ];
  // Real knockers: 10.x.y.z, three knocks 50-150 packets apart.
  for (let start = 0; start + 400 < count; start += 1000) {
    for (let k = 0; k < 3; k++) {
      const who = next() & 63;
      const source = Uint8Array.of(10, 99, who >> 8, who & 0xff);
      let at = start + k * 300 + (next() % 50);
      for (const port of BENCH_PORTS) {
        while (packets[at] !== undefined) at++;
        packets[at] = { family: 4, source, port, protocol: 'tcp' };
        summary.sequencePackets++;
        at += 50 + (next() % 100);
      }
    }
  }
  for (let i = 0; i < count; i++) {
    if (packets[i] !== undefined) continue;
    const v6 = next() % 10 === 0;
    const source = v6 ? randomBytes(next, 16, 0x20) : randomBytes(next, 4, 0);
    if (v6) summary.ipv6++;
    if (next() % 1000 < 50) {
      const [port, protocol] = otherPorts[next() % otherPorts.length]!;
      packets[i] = { family: v6 ? 6 : 4, source, port, protocol };
      summary.scannersOtherPorts++;
    } else {
      packets[i] = { family: v6 ? 6 : 4, source, port: BENCH_PORTS[0], protocol: 'tcp' };
      summary.scannersFirstPort++;
    }
  }
  return { packets: packets as MixPacket[], summary };
}

function randomBytes(next: () => number, length: number, firstByte: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const r = next();
    bytes[i] = r & 0xff;
    if (i + 1 < length) bytes[i + 1] = (r >>> 8) & 0xff;
    if (i + 2 < length) bytes[i + 2] = (r >>> 16) & 0xff;
    if (i + 3 < length) bytes[i + 3] = r >>> 24;
  }
  if (firstByte !== 0) bytes[0] = firstByte; // 2000::/3, a global unicast IPv6 source
  else bytes[0] = 1 + ((bytes[0] as number) % 223); // a unicast IPv4 source
  return bytes;
}

// --- NFLOG ------------------------------------------------------------------------------------

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const NFLOG_PACKET_TYPE = (4 << 8) | 0;
const SERVER_V4 = Uint8Array.of(10, 201, 1, 1);
const SERVER_V6 = Uint8Array.of(0xfd, 0, 2, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const PREFIX = Buffer.from('portknock\0');

class Writer {
  offset = 0;
  constructor(readonly b: Buffer) {}
  hostU16(v: number): void {
    if (little) this.b.writeUInt16LE(v, this.offset);
    else this.b.writeUInt16BE(v, this.offset);
    this.offset += 2;
  }
  hostU32(v: number): void {
    if (little) this.b.writeUInt32LE(v >>> 0, this.offset);
    else this.b.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
  }
  be16(v: number): void {
    this.b.writeUInt16BE(v, this.offset);
    this.offset += 2;
  }
  be32(v: number): void {
    this.b.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
  }
  bytes(v: Uint8Array): void {
    this.b.set(v, this.offset);
    this.offset += v.length;
  }
  pad(): void {
    while (this.offset % 4 !== 0) this.b[this.offset++] = 0;
  }
  /** Starts an attribute; call the returned function after writing its data. */
  attribute(type: number): () => void {
    const start = this.offset;
    this.offset += 4;
    return () => {
      const length = this.offset - start;
      if (little) {
        this.b.writeUInt16LE(length, start);
        this.b.writeUInt16LE(type, start + 2);
      } else {
        this.b.writeUInt16BE(length, start);
        this.b.writeUInt16BE(type, start + 2);
      }
      this.pad();
    };
  }
}

/**
 * One message per packet with the attributes a veth delivers, in the kernel's order
 * (__build_packet_message): PACKET_HDR, PREFIX, IFINDEX_INDEV, HWADDR, HWTYPE, HWLEN, HWHEADER,
 * TIMESTAMP, PAYLOAD (a 40/60-byte SYN or a 28/48-byte UDP datagram, as hping3 and knock send).
 */
function writePacketMessage(w: Writer, packet: MixPacket, epochMicros: number): void {
  const start = w.offset;
  w.hostU32(0); // length, patched below
  w.hostU16(NFLOG_PACKET_TYPE);
  w.hostU16(0);
  w.hostU32(0);
  w.hostU32(0);
  w.bytes(Uint8Array.of(packet.family === 4 ? 2 : 10, 0));
  w.be16(5);
  let end = w.attribute(1);
  w.be16(packet.family === 4 ? 0x0800 : 0x86dd);
  w.bytes(Uint8Array.of(1, 0));
  end();
  end = w.attribute(10);
  w.bytes(PREFIX);
  end();
  end = w.attribute(4);
  w.be32(2);
  end();
  end = w.attribute(8);
  w.be16(6);
  w.be16(0);
  w.bytes(Uint8Array.of(0x02, 0, 0, 0, 0, 2, 0, 0));
  end();
  end = w.attribute(15);
  w.be16(1);
  end();
  end = w.attribute(17);
  w.be16(14);
  end();
  end = w.attribute(16);
  w.bytes(new Uint8Array(14).fill(0x42));
  end();
  end = w.attribute(3);
  const seconds = Math.floor(epochMicros / 1e6);
  w.be32(0);
  w.be32(seconds);
  w.be32(0);
  w.be32(epochMicros - seconds * 1e6);
  end();
  end = w.attribute(9);
  writeIpPacket(w, packet);
  end();
  const length = w.offset - start;
  if (little) w.b.writeUInt32LE(length, start);
  else w.b.writeUInt32BE(length, start);
}

function writeIpPacket(w: Writer, packet: MixPacket): void {
  const transportLength = packet.protocol === 'tcp' ? 20 : 9;
  if (packet.family === 4) {
    w.bytes(Uint8Array.of(0x45, 0));
    w.be16(20 + transportLength);
    w.be32(0x12344000);
    w.bytes(Uint8Array.of(64, packet.protocol === 'tcp' ? 6 : 17));
    w.be16(0);
    w.bytes(packet.source);
    w.bytes(SERVER_V4);
  } else {
    w.be32(0x60000000);
    w.be16(transportLength);
    w.bytes(Uint8Array.of(packet.protocol === 'tcp' ? 6 : 17, 64));
    w.bytes(packet.source);
    w.bytes(SERVER_V6);
  }
  w.be16(40000);
  w.be16(packet.port);
  if (packet.protocol === 'tcp') {
    w.be32(1);
    w.be32(0);
    w.bytes(Uint8Array.of(0x50, 0x02));
    w.be16(512);
    w.be32(0);
  } else {
    w.be16(9);
    w.be16(0);
    w.bytes(Uint8Array.of(0));
  }
}

/**
 * The packets as kernel batches of at most `perBatch` messages (the source's queue threshold) and, if
 * given, `maxBytes` (its NLBUFSIZ: the kernel flushes when the next message would not fit), one Buffer
 * per recv(), each with an NLMSG_DONE at the end as nfnetlink_log appends when it flushes a batch.
 */
export function buildNflogBatches(packets: readonly MixPacket[], perBatch: number, startMicros: number, maxBytes = Infinity): Buffer[] {
  const batches: Buffer[] = [];
  const done = 20;
  for (let i = 0; i < packets.length; ) {
    // A message is under 256 bytes: room for the one that may not fit, written and then taken back.
    const w = new Writer(Buffer.alloc(Math.min(perBatch * 256, maxBytes + 256) + done));
    const first = i;
    while (i < packets.length && i - first < perBatch) {
      const before = w.offset;
      writePacketMessage(w, packets[i]!, startMicros + i);
      if (w.offset + done > maxBytes && i > first) {
        w.offset = before;
        break;
      }
      i++;
    }
    // NLMSG_DONE with an empty body, as nfulnl_send appends to a multi-part batch.
    w.hostU32(20);
    w.hostU16(3);
    w.hostU16(2);
    w.hostU32(0);
    w.hostU32(0);
    w.hostU32(0);
    batches.push(w.b.subarray(0, w.offset));
  }
  return batches;
}

// --- LOG lines ------------------------------------------------------------------------------------

function ipv4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The kernel prints IPv6 sources in full (%pI6), never compressed. */
function ipv6FullText(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] as number) << 8) | (b[i + 1] as number)).toString(16).padStart(4, '0'));
  return groups.join(':');
}

/** What nf_log_syslog writes for each packet, with `prefix ` (LOG rules add the space). */
export function buildLogLines(packets: readonly MixPacket[], prefix: string): string[] {
  return packets.map((packet, i) => {
    const head = `${prefix} IN=veth-srv OUT= MAC=02:00:00:00:00:01:02:00:00:00:00:02:08:00 `;
    const ip =
      packet.family === 4
        ? `SRC=${ipv4Text(packet.source)} DST=10.201.1.1 LEN=${packet.protocol === 'tcp' ? 40 : 29} TOS=0x00 PREC=0x00 TTL=64 ID=${i & 0xffff} DF `
        : `SRC=${ipv6FullText(packet.source)} DST=fd00:0201:0001:0000:0000:0000:0000:0001 LEN=${packet.protocol === 'tcp' ? 60 : 49} TC=0 HOPLIMIT=64 FLOWLBL=0 `;
    const l4 =
      packet.protocol === 'tcp'
        ? `PROTO=TCP SPT=40000 DPT=${packet.port} WINDOW=512 RES=0x00 SYN URGP=0 `
        : `PROTO=UDP SPT=40000 DPT=${packet.port} LEN=9 `;
    return head + ip + l4;
  });
}
