import type { KnockEvent } from '../core/types.js';
import { blankEvent, decodeIPv4, decodeIPv6, DestinationStrings, type PacketFields } from './ip-packet.js';

/**
 * Pure decoder for what one recv() on an NFNETLINK socket returns: a run of netlink messages, each an
 * NFULNL_MSG_PACKET (a knock candidate) or a netlink control message. Modelled on pg-protocol: no I/O,
 * no clock, buffers built by tests. The hot path allocates only the source address string (and the
 * event, unless `reuseEvent`), because a spoofed flood must not make the daemon fall behind the
 * kernel (target: 2 x 10^6 events per CPU-second with the matcher). The IP packet itself is read by
 * ip-packet.ts.
 *
 * Netlink headers and attribute headers are in host byte order; everything nfnetlink_log puts inside
 * attributes (timestamps, hw_protocol, config values) and the packet itself are big-endian.
 */

// linux/netlink.h
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff; // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

// linux/netfilter/nfnetlink.h, nfnetlink_log.h
export const NFNL_SUBSYS_ULOG = 4;
export const NFULNL_MSG_PACKET = 0;
export const NFULNL_MSG_CONFIG = 1;
export const NFLOG_PACKET_TYPE = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
export const NFLOG_CONFIG_TYPE = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
export const NFGENMSG_LEN = 4;
export const NFNETLINK_V0 = 0;

export const NfulaAttr = {
  PACKET_HDR: 1,
  MARK: 2,
  TIMESTAMP: 3,
  IFINDEX_INDEV: 4,
  IFINDEX_OUTDEV: 5,
  HWADDR: 8,
  PAYLOAD: 9,
  PREFIX: 10,
  SEQ: 12,
} as const;

export const NfulaCfgAttr = {
  CMD: 1,
  MODE: 2,
  NLBUFSIZ: 3,
  TIMEOUT: 4,
  QTHRESH: 5,
  FLAGS: 6,
} as const;

export const NfulnlCfgCmd = { BIND: 1, UNBIND: 2, PF_BIND: 3, PF_UNBIND: 4 } as const;
export const NFULNL_COPY_PACKET = 0x02;

export const AF_INET = 2;
export const AF_INET6 = 10;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

export { nflogRejectReasons, type NflogRejectReason } from '../core/reject-reasons.js';
import type { NflogRejectReason } from '../core/reject-reasons.js';

/** Netlink bookkeeping that is neither a knock nor bad input. */
export type NetlinkControlKind = 'ack' | 'done' | 'noop' | 'overrun';

/**
 * Exactly one of these methods is called per netlink message in the batch (plus one `reject('truncated')`
 * for trailing bytes too short to be a message), so callers can count without gaps.
 */
export interface NflogBatchHandler {
  /** `ifindex` is NFULA_IFINDEX_INDEV, 0 when absent; the source maps it to a name. */
  event(event: KnockEvent, ifindex: number): void;
  /** `errno` (positive) and `sequence` are set for 'nlmsg-error', so a waiting request can match it. */
  reject(reason: NflogRejectReason, errno: number, sequence: number): void;
  control(kind: NetlinkControlKind, sequence: number): void;
}

export interface NflogDecoderOptions {
  /** Must equal NFULA_PREFIX exactly (without its NUL). */
  prefix: string;
  /** Names the interface of NFULA_IFINDEX_INDEV for the event's `inInterface` (the source reads /sys). */
  interfaceName?: (ifindex: number) => string | undefined;
  /**
   * Hand `event` one object refilled for every packet instead of a new one: for a handler that is done
   * with the event when it returns and keeps no reference to it (NflogSource's sink contract). A flood
   * then allocates only the source address string per packet.
   */
  reuseEvent?: boolean;
}

export interface NflogDecodeOptions extends NflogDecoderOptions {
  /** Epoch ms of the recv(); used when the kernel sent no NFULA_TIMESTAMP. */
  receivedAt: number;
}

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function hostU32(b: Uint8Array, o: number): number {
  return hostIsLittleEndian
    ? ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0
    : (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Decodes what one recv() returned, calling the handler once per message. Never throws. An instance
 * keeps what it may reuse between packets (the prefix as bytes, the last destination's string), so a
 * flood builds no string per packet; each source has its own.
 */
export class NflogDecoder {
  // The prefix is compared as bytes so no string is built per packet.
  private readonly prefixBytes: Uint8Array;
  /** Refilled for each packet (decode is not re-entrant): a flood allocates no per-packet record. */
  private readonly fields: PacketFields;

  constructor(private readonly options: NflogDecoderOptions) {
    this.prefixBytes = new TextEncoder().encode(options.prefix);
    this.fields = { at: 0, inInterface: undefined, destinations: new DestinationStrings(), event: options.reuseEvent === true ? blankEvent() : undefined };
  }

  decode(buf: Uint8Array, receivedAt: number, handler: NflogBatchHandler): void {
    const total = buf.length;
    // One view per batch: a DataView read is one bounds check and one load, where assembling a
    // number from a Uint8Array takes one of each per byte (the attribute walk is most of decoding).
    const view = new DataView(buf.buffer, buf.byteOffset, total);
    let offset = 0;
    while (offset < total) {
      if (total - offset < NLMSG_HDRLEN) {
        handler.reject('truncated', 0, 0);
        return;
      }
      const length = view.getUint32(offset, hostIsLittleEndian);
      if (length < NLMSG_HDRLEN || length > total - offset) {
        // The framing itself is broken: nothing after this point can be trusted to be a message.
        handler.reject('truncated', 0, 0);
        return;
      }
      const type = view.getUint16(offset + 4, hostIsLittleEndian);
      const sequence = view.getUint32(offset + 8, hostIsLittleEndian);
      const end = offset + length;
      if (type === NFLOG_PACKET_TYPE) {
        this.decodePacketMessage(buf, view, offset, end, receivedAt, handler);
      } else if (type === NLMSG_ERROR) {
        decodeErrorMessage(buf, offset, end, sequence, handler);
      } else if (type === NLMSG_DONE) {
        handler.control('done', sequence);
      } else if (type === NLMSG_NOOP) {
        handler.control('noop', sequence);
      } else if (type === NLMSG_OVERRUN) {
        handler.control('overrun', sequence);
      } else {
        handler.reject('unknown-message', 0, sequence);
      }
      offset += align4(length);
    }
  }

  private decodePacketMessage(buf: Uint8Array, view: DataView, start: number, end: number, receivedAt: number, handler: NflogBatchHandler): void {
    if (end - start < NLMSG_HDRLEN + NFGENMSG_LEN) return handler.reject('truncated', 0, 0);
    const family = buf[start + NLMSG_HDRLEN] as number;
    if (buf[start + NLMSG_HDRLEN + 1] !== NFNETLINK_V0) return handler.reject('bad-message', 0, 0);

    let prefixAt = -1;
    let prefixLength = 0;
    let timestampAt = -1;
    let ifindex = 0;
    let hwProtocol = -1;
    let payloadAt = -1;
    let payloadLength = 0;

    let p = start + NLMSG_HDRLEN + NFGENMSG_LEN;
    while (end - p >= NLA_HDRLEN) {
      const attrLength = view.getUint16(p, hostIsLittleEndian);
      if (attrLength < NLA_HDRLEN) return handler.reject('bad-attribute', 0, 0);
      if (attrLength > end - p) return handler.reject('truncated', 0, 0);
      const data = p + NLA_HDRLEN;
      const dataLength = attrLength - NLA_HDRLEN;
      switch (view.getUint16(p + 2, hostIsLittleEndian) & NLA_TYPE_MASK) {
        case NfulaAttr.PREFIX:
          prefixAt = data;
          prefixLength = dataLength;
          break;
        case NfulaAttr.TIMESTAMP:
          if (dataLength !== 16) return handler.reject('bad-attribute', 0, 0);
          timestampAt = data;
          break;
        case NfulaAttr.IFINDEX_INDEV:
          if (dataLength !== 4) return handler.reject('bad-attribute', 0, 0);
          ifindex = view.getUint32(data);
          break;
        case NfulaAttr.PACKET_HDR:
          if (dataLength < 4) return handler.reject('bad-attribute', 0, 0);
          hwProtocol = view.getUint16(data);
          break;
        case NfulaAttr.PAYLOAD:
          payloadAt = data;
          payloadLength = dataLength;
          break;
      }
      p += align4(attrLength);
    }

    const prefixVerdict = checkPrefix(buf, prefixAt, prefixLength, this.prefixBytes);
    if (prefixVerdict !== undefined) return handler.reject(prefixVerdict, 0, 0);

    let at = receivedAt;
    if (timestampAt >= 0) {
      const secondsHigh = view.getUint32(timestampAt);
      const microsHigh = view.getUint32(timestampAt + 8);
      const micros = view.getUint32(timestampAt + 12);
      // Beyond 2^16 * 2^32 s the millisecond count stops being an exact JS number.
      if (secondsHigh > 0xffff || microsHigh !== 0 || micros >= 1_000_000) return handler.reject('bad-timestamp', 0, 0);
      at = (secondsHigh * 4294967296 + view.getUint32(timestampAt + 4)) * 1000 + Math.floor(micros / 1000);
    }

    if (payloadAt < 0) return handler.reject('no-payload', 0, 0);
    let version: number;
    if (hwProtocol === ETH_P_IP) version = 4;
    else if (hwProtocol === ETH_P_IPV6) version = 6;
    else if (hwProtocol >= 0) return handler.reject('not-ip', 0, 0);
    else if (family === AF_INET) version = 4;
    else if (family === AF_INET6) version = 6;
    else return handler.reject('not-ip', 0, 0);

    const fields = this.fields;
    fields.at = at;
    fields.inInterface = ifindex === 0 ? undefined : this.options.interfaceName?.(ifindex);
    const verdict = version === 4 ? decodeIPv4(buf, payloadAt, payloadLength, fields) : decodeIPv6(buf, payloadAt, payloadLength, fields);
    if (typeof verdict === 'string') handler.reject(verdict, 0, 0);
    else handler.event(verdict, ifindex);
  }
}

/** One batch with a decoder of its own (tests, one-off replies); a source keeps one NflogDecoder. */
export function decodeNflogBatch(buf: Uint8Array, options: NflogDecodeOptions, handler: NflogBatchHandler): void {
  new NflogDecoder(options).decode(buf, options.receivedAt, handler);
}

function decodeErrorMessage(buf: Uint8Array, start: number, end: number, sequence: number, handler: NflogBatchHandler): void {
  if (end - start < NLMSG_HDRLEN + 4) {
    handler.reject('truncated', 0, sequence);
    return;
  }
  // struct nlmsgerr { int error; struct nlmsghdr msg; }: the request's sequence is the one to match.
  const error = hostU32(buf, start + NLMSG_HDRLEN) | 0;
  const requestSequence = end - start >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN ? hostU32(buf, start + NLMSG_HDRLEN + 4 + 8) : sequence;
  if (error === 0) handler.control('ack', requestSequence);
  else handler.reject('nlmsg-error', -error, requestSequence);
}

function checkPrefix(buf: Uint8Array, at: number, length: number, expected: Uint8Array): NflogRejectReason | undefined {
  // xt_NFLOG always sends the attribute (an empty prefix is a lone NUL), so absence means "no prefix".
  if (at < 0) return expected.length === 0 ? undefined : 'prefix-mismatch';
  let textLength = 0;
  while (textLength < length && buf[at + textLength] !== 0) textLength++;
  if (textLength === length) return 'bad-attribute';
  if (textLength !== expected.length) return 'prefix-mismatch';
  for (let i = 0; i < textLength; i++) if (buf[at + i] !== expected[i]) return 'prefix-mismatch';
  return undefined;
}
