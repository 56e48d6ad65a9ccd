import { canonicalAddress } from '../core/address.js';
import type { Decoded, KnockEvent, Protocol } from '../core/types.js';
import { TcpFlag } from '../core/types.js';

/**
 * Parser for the text the netfilter LOG target (iptables `-j LOG`, nft `log`) writes to the kernel
 * log. The kernel builds it in net/netfilter/nf_log_syslog.c as
 *
 *   <prefix>IN=<if> OUT=<if> [PHYSIN=..] MAC=<hex>|MACSRC=.. MACDST=.. MACPROTO=..
 *   SRC=<a> DST=<a> LEN=n TOS=0xNN PREC=0xNN TTL=n ID=n [CE] [DF] [MF] [FRAG:n] [OPT (hex)]   (IPv4)
 *   SRC=<full a> DST=<full a> LEN=n TC=n HOPLIMIT=n FLOWLBL=n [OPT ( .. )] [FRAG:n ..]        (IPv6)
 *   PROTO=TCP SPT=n DPT=n [SEQ=n ACK=n] WINDOW=n RES=0xNN [AE CWR ECE URG ACK PSH RST SYN FIN] URGP=n [OPT (hex)]
 *   PROTO=UDP SPT=n DPT=n LEN=n
 *   [UID=n GID=n] [MARK=0xN]
 *
 * every piece followed by one space, so a complete line ends with a space.
 *
 * Prefix rule: the kernel pastes the rule's `--log-prefix` directly before `IN=` with no separator,
 * so `"portknock "`, `"portknock:"` and `"portknock: "` all appear in the wild. A message is ours
 * only when it STARTS with the configured prefix, followed by at most one `:` and at most one space,
 * followed by `IN=`. Anchoring at the start matters: other kernel messages quote user-chosen text
 * (file names, device names) after their own subsystem prefix, never at the start.
 *
 * Truncation: nf_log_buf_add() cuts lines at ~1 KiB mid-field and loggers cut long lines too. The
 * fields we rely on all come before a field the kernel always writes after them (TCP: `URGP=`;
 * UDP: the UDP header's own `LEN=`), so a line cut before that point is rejected, never misread.
 */
export type LogLineEvent = Omit<KnockEvent, 'at'>;

/** Longer than any real line (the kernel's buffer is 1 KiB); bounds the work on garbage. */
const MAX_LINE_LENGTH = 4096;
const FIELD_KEY = /^[A-Z][A-Z0-9]*$/;
const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;

/** Byte 13 of the TCP header, so LOG and NFLOG events carry the same bits. AE lives in byte 12. */
const tcpFlagWords: Record<string, number> = {
  FIN: TcpFlag.FIN,
  SYN: TcpFlag.SYN,
  RST: TcpFlag.RST,
  PSH: TcpFlag.PSH,
  ACK: TcpFlag.ACK,
  URG: TcpFlag.URG,
  ECE: 0x40,
  CWR: 0x80,
  AE: 0,
};

/** Fields that legitimately appear twice: IP total length, then the UDP header's length. */
const repeatableFields = new Set(['LEN']);

interface Fields {
  values: Map<string, string>;
  counts: Map<string, number>;
  conflict?: string;
  flags: number;
  flagWords: number;
}

export function parseLogLine(message: string, prefix: string): Decoded<LogLineEvent> {
  if (prefix.length === 0) return reject('empty-prefix');
  if (message.length > MAX_LINE_LENGTH) return reject('too-long');
  if (!message.startsWith(prefix)) return reject('prefix-mismatch');
  let body = message.slice(prefix.length);
  if (body.startsWith(':')) body = body.slice(1);
  if (body.startsWith(' ')) body = body.slice(1);
  if (!body.startsWith('IN=')) return reject('prefix-mismatch');
  // kmsg escapes control bytes as \xNN and the kernel never writes a backslash here: anything
  // outside printable ASCII means the line was not written by nf_log_syslog.
  if (!/^[\x20-\x5b\x5d-\x7e]*$/.test(body)) return reject('bad-character');

  const tokens = body.split(' ').filter((t) => t.length > 0);
  const fields = collectFields(tokens);
  if (typeof fields === 'string') return reject(fields);
  return buildEvent(fields);
}

function collectFields(tokens: string[]): Fields | string {
  const fields: Fields = { values: new Map(), counts: new Map(), flags: 0, flagWords: 0 };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === 'OPT') {
      const end = skipOptions(tokens, i + 1);
      if (typeof end === 'string') return end;
      i = end;
      continue;
    }
    if (token === 'TRUNCATED' || token === 'INCOMPLETE') return 'truncated';
    if (token.startsWith('FRAG:')) return 'fragment';
    if (token.startsWith('[')) return 'nested-packet';
    const eq = token.indexOf('=');
    if (eq < 0) {
      const bit = tcpFlagWords[token];
      if (bit !== undefined && Object.hasOwn(tcpFlagWords, token)) {
        fields.flags |= bit;
        fields.flagWords++;
      }
      // Other bare words (CE DF MF, ID:xxxx of IPv6 fragments...) say nothing about a knock.
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (!FIELD_KEY.test(key)) return 'malformed-field';
    const count = (fields.counts.get(key) ?? 0) + 1;
    fields.counts.set(key, count);
    const previous = fields.values.get(key);
    if (previous === undefined) fields.values.set(key, value);
    else if (previous !== value && !repeatableFields.has(key)) fields.conflict ??= `duplicate-field:${key}`;
  }
  return fields;
}

/** Skips `OPT (...)`; IPv4/TCP options are hex, IPv6 extension headers are words inside `( .. )`. */
function skipOptions(tokens: string[], from: number): number | string {
  const first = tokens[from];
  if (first === undefined || !first.startsWith('(')) return 'malformed-options';
  if (first === '(TRUNCATED)') return 'truncated';
  for (let j = from; j < tokens.length; j++) {
    const token = tokens[j] as string;
    if (token.startsWith('FRAG:') || token === 'INCOMPLETE') return 'fragment';
    if (token.endsWith(')')) return j;
  }
  return 'truncated';
}

function buildEvent(fields: Fields): Decoded<LogLineEvent> {
  const { values } = fields;
  for (const key of ['IN', 'SRC', 'DST', 'PROTO']) {
    if (!values.has(key)) return reject(`missing-field:${key}`);
  }
  const protoText = values.get('PROTO') as string;
  if (protoText === 'ICMP' || protoText === 'ICMPv6') return reject('icmp');
  let protocol: Protocol;
  if (protoText === 'TCP') protocol = 'tcp';
  else if (protoText === 'UDP') protocol = 'udp';
  else return reject('unsupported-protocol');
  if (fields.conflict) return reject(fields.conflict);

  for (const key of ['SPT', 'DPT']) {
    if (!values.has(key)) return reject(`missing-field:${key}`);
  }
  const sourcePort = parsePort(values.get('SPT') as string);
  const port = parsePort(values.get('DPT') as string);
  if (sourcePort === undefined) return reject('bad-port:SPT');
  if (port === undefined || port === 0) return reject('bad-port:DPT');

  if ((fields.counts.get('LEN') ?? 0) > 2) return reject('duplicate-field:LEN');
  if (protocol === 'tcp') {
    const urgentPointer = values.get('URGP');
    if (urgentPointer === undefined || !DECIMAL.test(urgentPointer)) return reject('incomplete:URGP');
  } else {
    if (fields.flagWords > 0) return reject('tcp-flags-on-udp');
    if ((fields.counts.get('LEN') ?? 0) !== 2) return reject('incomplete:LEN');
  }

  const source = canonicalAddress(values.get('SRC') as string);
  if (!source) return reject('bad-address:SRC');
  const destination = canonicalAddress(values.get('DST') as string);
  if (!destination) return reject('bad-address:DST');
  if (source.family !== destination.family) return reject('family-mismatch');

  const inInterface = values.get('IN') as string;
  const event: LogLineEvent = {
    source: source.address,
    family: source.family,
    destination: destination.address,
    protocol,
    port,
    tcpFlags: protocol === 'tcp' ? fields.flags : 0,
  };
  if (inInterface !== '') event.inInterface = inInterface;
  return { ok: true, value: event };
}

function parsePort(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return value <= 65535 ? value : undefined;
}

function reject(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
