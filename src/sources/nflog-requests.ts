/**
 * The netlink requests the NFLOG source sends: bind, configure and unbind a group, and the replies
 * that answer them. Pure buffer builders, apart from the decoder because they run once per start.
 */
import { ErrorCodes, NfknockError } from '../core/errors.js';
import {
  AF_INET,
  AF_INET6,
  align4,
  decodeNflogBatch,
  hostIsLittleEndian,
  NFGENMSG_LEN,
  NFLOG_CONFIG_TYPE,
  NFNETLINK_V0,
  NfulaCfgAttr,
  NfulnlCfgCmd,
  NFULNL_COPY_PACKET,
  NLA_HDRLEN,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
} from '../decode/nflog.js';

// Sent once at start and at close, so clarity beats allocation here.

export interface NflogConfig {
  group: number;
  /** Bytes of each packet to copy: enough for IPv6, a few extension headers and the TCP flags. */
  copyRange: number;
  /** Messages the kernel batches before sending (1 = send each at once). */
  qthreshold: number;
  /** Longest the kernel holds a partial batch, in 1/100 s. */
  timeoutCentiseconds: number;
  /** NFULNL_CFG_F_* bits. */
  flags: number;
  /** Size of the kernel's batch buffer (NFULA_CFG_NLBUFSIZ); the kernel's default when absent. */
  bufferBytes?: number;
  /**
   * Also send PF_UNBIND/PF_BIND for AF_INET and AF_INET6. Only pre-3.17 kernels need it for NFLOG;
   * on newer ones PF_UNBIND would detach whatever default logger the admin set, so it is opt-in.
   */
  bindProtocolFamilies?: boolean;
  /** Sequence number of the first request; the rest follow consecutively. */
  firstSequence?: number;
}

function validateConfig(config: NflogConfig): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new NfknockError(ErrorCodes.CONFIG_INVALID, `NFLOG ${what}`);
  };
  const isU32 = (n: number | undefined) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
  check(Number.isInteger(config.group) && config.group >= 0 && config.group <= 0xffff, `group must be 0-65535, got ${config.group}`);
  check(Number.isInteger(config.copyRange) && config.copyRange >= 1 && config.copyRange <= 0xfffb, `copy range must be 1-65531 bytes, got ${config.copyRange}`);
  check(isU32(config.qthreshold) && config.qthreshold >= 1, `queue threshold must be at least 1, got ${config.qthreshold}`);
  check(isU32(config.timeoutCentiseconds), `timeout must be a non-negative number of 1/100 s, got ${config.timeoutCentiseconds}`);
  check(Number.isInteger(config.flags) && config.flags >= 0 && config.flags <= 0xffff, `flags must be 0-0xffff, got ${config.flags}`);
  check(config.bufferBytes === undefined || isU32(config.bufferBytes), `buffer size must be a byte count, got ${config.bufferBytes}`);
}

interface Attribute {
  type: number;
  data: Uint8Array;
}

function u8(value: number): Uint8Array {
  return Uint8Array.of(value);
}

function be16(value: number): Uint8Array {
  return Uint8Array.of(value >> 8, value & 0xff);
}

function be32(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function writeHostU16(b: Buffer, o: number, v: number): void {
  if (hostIsLittleEndian) b.writeUInt16LE(v, o);
  else b.writeUInt16BE(v, o);
}

function writeHostU32(b: Buffer, o: number, v: number): void {
  if (hostIsLittleEndian) b.writeUInt32LE(v >>> 0, o);
  else b.writeUInt32BE(v >>> 0, o);
}

/** One NFULNL_MSG_CONFIG request with NLM_F_ACK, for `family` (AF_UNSPEC for group commands). */
export function buildNflogConfigMessage(group: number, family: number, sequence: number, attributes: Attribute[]): Buffer {
  const bodyLength = attributes.reduce((sum, a) => sum + align4(NLA_HDRLEN + a.data.length), 0);
  const length = NLMSG_HDRLEN + NFGENMSG_LEN + bodyLength;
  const b = Buffer.alloc(length);
  writeHostU32(b, 0, length);
  writeHostU16(b, 4, NFLOG_CONFIG_TYPE);
  writeHostU16(b, 6, NLM_F_REQUEST | NLM_F_ACK);
  writeHostU32(b, 8, sequence);
  writeHostU32(b, 12, 0);
  b[16] = family;
  b[17] = NFNETLINK_V0;
  b.writeUInt16BE(group, 18);
  let p = NLMSG_HDRLEN + NFGENMSG_LEN;
  for (const a of attributes) {
    writeHostU16(b, p, NLA_HDRLEN + a.data.length);
    writeHostU16(b, p + 2, a.type);
    b.set(a.data, p + NLA_HDRLEN);
    p += align4(NLA_HDRLEN + a.data.length);
  }
  return b;
}

/** The requests that bind `group` and set its copy mode and batching, in the order to send them. */
export function buildNflogConfigMessages(config: NflogConfig): Buffer[] {
  validateConfig(config);
  let sequence = config.firstSequence ?? 1;
  const messages: Buffer[] = [];
  const command = (family: number, group: number, cmd: number) =>
    messages.push(buildNflogConfigMessage(group, family, sequence++, [{ type: NfulaCfgAttr.CMD, data: u8(cmd) }]));
  if (config.bindProtocolFamilies) {
    for (const family of [AF_INET, AF_INET6]) {
      command(family, 0, NfulnlCfgCmd.PF_UNBIND);
      command(family, 0, NfulnlCfgCmd.PF_BIND);
    }
  }
  command(0, config.group, NfulnlCfgCmd.BIND);
  const settings: Attribute[] = [
    // struct nfulnl_msg_config_mode is packed: be32 copy_range, u8 copy_mode, u8 pad.
    { type: NfulaCfgAttr.MODE, data: Uint8Array.of(...be32(config.copyRange), NFULNL_COPY_PACKET, 0) },
    { type: NfulaCfgAttr.QTHRESH, data: be32(config.qthreshold) },
    { type: NfulaCfgAttr.TIMEOUT, data: be32(config.timeoutCentiseconds) },
    { type: NfulaCfgAttr.FLAGS, data: be16(config.flags) },
  ];
  if (config.bufferBytes !== undefined) settings.push({ type: NfulaCfgAttr.NLBUFSIZ, data: be32(config.bufferBytes) });
  messages.push(buildNflogConfigMessage(config.group, 0, sequence++, settings));
  return messages;
}

/** The request that changes only the flush timeout of a bound group; the rest of its configuration stays. */
export function buildNflogTimeoutMessage(group: number, timeoutCentiseconds: number, sequence: number): Buffer {
  validateConfig({ group, copyRange: 1, qthreshold: 1, timeoutCentiseconds, flags: 0 });
  return buildNflogConfigMessage(group, 0, sequence, [{ type: NfulaCfgAttr.TIMEOUT, data: be32(timeoutCentiseconds) }]);
}

/** The request that releases `group`, so another process (or our restart) can bind it. */
export function buildNflogUnbindMessage(group: number, sequence: number): Buffer {
  return buildNflogConfigMessage(group, 0, sequence, [{ type: NfulaCfgAttr.CMD, data: u8(NfulnlCfgCmd.UNBIND) }]);
}

export interface NetlinkReply {
  /** Sequence number of the request this answers. */
  sequence: number;
  /** 0 for an ACK, else the positive errno (1 = EPERM, 16 = EBUSY...). */
  errno: number;
}

/** The ACK/error replies in one recv(); other messages (and broken framing) are skipped. */
export function decodeNetlinkReplies(buf: Uint8Array): NetlinkReply[] {
  const replies: NetlinkReply[] = [];
  decodeNflogBatch(
    buf,
    { prefix: '', receivedAt: 0 },
    {
      event: () => undefined,
      reject: (reason, errno, sequence) => {
        if (reason === 'nlmsg-error') replies.push({ sequence, errno });
      },
      control: (kind, sequence) => {
        if (kind === 'ack') replies.push({ sequence, errno: 0 });
      },
    },
  );
  return replies;
}
