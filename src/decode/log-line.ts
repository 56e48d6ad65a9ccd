import { canonicalAddress, formatIPv4, formatIPv6 } from '../core/address.js';
import type { Decoded, Family, KnockEvent, Protocol } from '../core/types.js';
import { TcpFlag } from '../core/types.js';
import type { LogLineRejectReason } from '../core/reject-reasons.js';

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
 *
 * Speed: the kmsg and file sources run this for every logged packet of a flood, so it walks the line
 * once, keeps fields as index ranges into it and builds strings only for the event (and for reasons).
 * Reasons and their precedence are those of the straightforward reading: any character outside
 * printable ASCII (or a backslash) first, then the first token-level problem in line order, then the
 * field checks in `eventFrom`.
 */
export type LogLineEvent = Omit<KnockEvent, 'at'>;

/** Longer than any real line (the kernel's buffer is 1 KiB); bounds the work on garbage. */
const MAX_LINE_LENGTH = 4096;

const SPACE = 0x20;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const OPEN_BRACKET = 0x5b;

/** Byte 13 of the TCP header, so LOG and NFLOG events carry the same bits. AE lives in byte 12. */
const tcpFlagWords: readonly (readonly [string, number])[] = [
  ...Object.entries(TcpFlag),
  ['ECE', 0x40],
  ['CWR', 0x80],
  ['AE', 0],
];

// Distinct keys of the line being parsed, as ranges, chained by a small hash so that a repeated key is
// found in O(1). A line has at most MAX_LINE_LENGTH / 2 tokens. Module state is safe: parsing is
// synchronous and never re-entered.
const MAX_KEYS = MAX_LINE_LENGTH / 2;
const BUCKETS = 64;
const keyStart = new Int32Array(MAX_KEYS);
const keyLength = new Int32Array(MAX_KEYS);
const valueStart = new Int32Array(MAX_KEYS);
const valueLength = new Int32Array(MAX_KEYS);
const keyHash = new Int32Array(MAX_KEYS);
const keyNext = new Int32Array(MAX_KEYS);
const bucketHead = new Int32Array(BUCKETS);
const bucketStamp = new Int32Array(BUCKETS);
let stamp = 0;

/** Indexes (into the key tables) of the fields the event is built from; -1 when absent. */
const enum Wanted {
  IN,
  SRC,
  DST,
  PROTO,
  SPT,
  DPT,
  URGP,
  COUNT,
}
const wanted = new Int32Array(Wanted.COUNT);

/** Options parsing state: after `OPT` the next token must open `(`, then tokens run until one ends in `)`. */
const enum Options {
  NONE,
  EXPECT_OPEN,
  INSIDE,
}

export function parseLogLine(message: string, prefix: string): Decoded<LogLineEvent> {
  return parse(message, prefix, undefined);
}

/**
 * parseLogLine for the sources: the event comes out with its time already in it, so the per-line
 * path builds one object instead of parsing into one and copying it into another.
 */
export function parseKnockLine(message: string, prefix: string, at: number): Decoded<KnockEvent> {
  return parse(message, prefix, at) as Decoded<KnockEvent>;
}

function parse(message: string, prefix: string, at: number | undefined): Decoded<LogLineEvent> {
  if (prefix.length === 0) return reject('empty-prefix');
  const end = message.length;
  if (end > MAX_LINE_LENGTH) return reject('too-long');
  if (!message.startsWith(prefix)) return reject('prefix-mismatch');
  let pos = prefix.length;
  if (message.charCodeAt(pos) === 0x3a) pos++;
  if (message.charCodeAt(pos) === SPACE) pos++;
  if (!message.startsWith('IN=', pos)) return reject('prefix-mismatch');

  if (++stamp > 0x3fffffff) {
    stamp = 1;
    bucketStamp.fill(0);
  }
  wanted.fill(-1);
  let keys = 0;
  let lenCount = 0;
  let flags = 0;
  let flagWords = 0;
  let conflictKey = -1;
  /** The first token-level problem; the rest of the line is still checked for bad characters. */
  let problem: LogLineRejectReason | undefined;
  let options = Options.NONE;

  while (pos < end) {
    const start = pos;
    let equals = -1;
    let code = 0;
    for (; pos < end; pos++) {
      code = message.charCodeAt(pos);
      if (code === SPACE) break;
      // kmsg escapes control bytes as \xNN and the kernel never writes a backslash here: anything
      // outside printable ASCII means the line was not written by nf_log_syslog.
      if (code < 0x20 || code > 0x7e || code === BACKSLASH) return reject('bad-character');
      if (code === EQUALS && equals < 0) equals = pos;
    }
    const length = pos - start;
    pos++;
    if (length === 0 || problem !== undefined) continue;
    const first = message.charCodeAt(start);
    const last = message.charCodeAt(start + length - 1);

    if (options !== Options.NONE) {
      if (options === Options.EXPECT_OPEN) {
        if (first !== OPEN_PAREN) {
          problem = 'malformed-options';
          continue;
        }
        if (length === 11 && message.startsWith('(TRUNCATED)', start)) {
          problem = 'truncated';
          continue;
        }
        options = Options.INSIDE;
      } else if ((first === 0x46 && message.startsWith('FRAG:', start)) || (first === 0x49 && isWord(message, start, length, 'INCOMPLETE'))) {
        problem = 'fragment';
        continue;
      }
      if (last === CLOSE_PAREN) options = Options.NONE;
      continue;
    }
    // Tokens that end or forbid the parse; the first character rules most tokens out cheaply.
    switch (first) {
      case 0x4f: // O
        if (isWord(message, start, length, 'OPT')) {
          options = Options.EXPECT_OPEN;
          continue;
        }
        break;
      case 0x54: // T
        if (isWord(message, start, length, 'TRUNCATED')) problem = 'truncated';
        break;
      case 0x49: // I
        if (isWord(message, start, length, 'INCOMPLETE')) problem = 'truncated';
        break;
      case 0x46: // F
        if (message.startsWith('FRAG:', start)) problem = 'fragment';
        break;
      case OPEN_BRACKET:
        problem = 'nested-packet';
        break;
    }
    if (problem !== undefined) continue;
    if (equals < 0) {
      // Other bare words (CE DF MF, ID:xxxx of IPv6 fragments...) say nothing about a knock.
      if (length > 3) continue;
      for (let i = 0; i < tcpFlagWords.length; i++) {
        const [word, bit] = tcpFlagWords[i]!;
        if (!isWord(message, start, length, word)) continue;
        flags |= bit;
        flagWords++;
        break;
      }
      continue;
    }

    // KEY=value with KEY matching [A-Z][A-Z0-9]*.
    const nameLength = equals - start;
    if (nameLength === 0 || first < 0x41 || first > 0x5a) {
      problem = 'malformed-field';
      continue;
    }
    let hash = 0;
    let validName = true;
    for (let i = start; i < equals; i++) {
      const c = message.charCodeAt(i);
      if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39))) {
        validName = false;
        break;
      }
      hash = (Math.imul(hash, 31) + c) | 0;
    }
    if (!validName) {
      problem = 'malformed-field';
      continue;
    }
    const value = equals + 1;
    const valueEnd = start + length;
    const isLen = nameLength === 3 && first === 0x4c && message.startsWith('LEN', start);
    if (isLen) lenCount++;
    const bucket = hash & (BUCKETS - 1);
    let seen = bucketStamp[bucket] === stamp ? bucketHead[bucket]! : -1;
    while (seen >= 0 && !(keyHash[seen] === hash && keyLength[seen] === nameLength && sameText(message, keyStart[seen]!, start, nameLength))) {
      seen = keyNext[seen]!;
    }
    if (seen >= 0) {
      if (!isLen && conflictKey < 0 && !(valueLength[seen] === valueEnd - value && sameText(message, valueStart[seen]!, value, valueEnd - value))) {
        conflictKey = seen;
      }
      continue;
    }
    const index = keys++;
    keyStart[index] = start;
    keyLength[index] = nameLength;
    valueStart[index] = value;
    valueLength[index] = valueEnd - value;
    keyHash[index] = hash;
    keyNext[index] = bucketStamp[bucket] === stamp ? bucketHead[bucket]! : -1;
    bucketHead[bucket] = index;
    bucketStamp[bucket] = stamp;
    const field = wantedField(message, start, nameLength);
    if (field >= 0) wanted[field] = index;
  }
  if (problem !== undefined) return reject(problem);
  if (options === Options.EXPECT_OPEN) return reject('malformed-options');
  if (options === Options.INSIDE) return reject('truncated');
  return eventFrom(message, lenCount, flags, flagWords, conflictKey, at);
}

function eventFrom(message: string, lenCount: number, flags: number, flagWords: number, conflictKey: number, at: number | undefined): Decoded<LogLineEvent> {
  const inField = wanted[Wanted.IN]!;
  const srcField = wanted[Wanted.SRC]!;
  const dstField = wanted[Wanted.DST]!;
  const protoField = wanted[Wanted.PROTO]!;
  if (inField < 0) return reject('missing-field:IN');
  if (srcField < 0) return reject('missing-field:SRC');
  if (dstField < 0) return reject('missing-field:DST');
  if (protoField < 0) return reject('missing-field:PROTO');
  const protoAt = valueStart[protoField]!;
  const protoLength = valueLength[protoField]!;
  if (isWord(message, protoAt, protoLength, 'ICMP') || isWord(message, protoAt, protoLength, 'ICMPv6')) return reject('icmp');
  let protocol: Protocol;
  if (isWord(message, protoAt, protoLength, 'TCP')) protocol = 'tcp';
  else if (isWord(message, protoAt, protoLength, 'UDP')) protocol = 'udp';
  else return reject('unsupported-protocol');
  if (conflictKey >= 0) return reject(`duplicate-field:${message.substr(keyStart[conflictKey]!, keyLength[conflictKey]!)}`);

  const sptField = wanted[Wanted.SPT]!;
  const dptField = wanted[Wanted.DPT]!;
  if (sptField < 0) return reject('missing-field:SPT');
  if (dptField < 0) return reject('missing-field:DPT');
  const sourcePort = portAt(message, valueStart[sptField]!, valueLength[sptField]!);
  const port = portAt(message, valueStart[dptField]!, valueLength[dptField]!);
  if (sourcePort < 0) return reject('bad-port:SPT');
  if (port <= 0) return reject('bad-port:DPT');

  if (lenCount > 2) return reject('duplicate-field:LEN');
  if (protocol === 'tcp') {
    const urgpField = wanted[Wanted.URGP]!;
    if (urgpField < 0 || decimalAt(message, valueStart[urgpField]!, valueLength[urgpField]!) < 0) return reject('incomplete:URGP');
  } else {
    if (flagWords > 0) return reject('tcp-flags-on-udp');
    if (lenCount !== 2) return reject('incomplete:LEN');
  }

  const source = addressAt(message, valueStart[srcField]!, valueLength[srcField]!);
  if (source === undefined) return reject('bad-address:SRC');
  const sourceFamily = lastFamily;
  const destination = destinationAt(message, valueStart[dstField]!, valueLength[dstField]!);
  if (destination === undefined) return reject('bad-address:DST');
  if (sourceFamily !== lastFamily) return reject('family-mismatch');

  const tcpFlags = protocol === 'tcp' ? flags : 0;
  const event: LogLineEvent | KnockEvent =
    at === undefined
      ? { source, family: sourceFamily, destination, protocol, port, tcpFlags }
      : { source, family: sourceFamily, destination, protocol, port, tcpFlags, at };
  const inLength = valueLength[inField]!;
  if (inLength > 0) event.inInterface = interfaceAt(message, valueStart[inField]!, inLength);
  return { ok: true, value: event };
}

function wantedField(text: string, at: number, length: number): number {
  const first = text.charCodeAt(at);
  switch (length) {
    case 2:
      return first === 0x49 && text.charCodeAt(at + 1) === 0x4e ? Wanted.IN : -1;
    case 3: {
      if (text.charCodeAt(at + 2) !== 0x54 && text.charCodeAt(at + 2) !== 0x43) return -1;
      if (first === 0x53) return text.startsWith('SRC', at) ? Wanted.SRC : text.startsWith('SPT', at) ? Wanted.SPT : -1;
      if (first === 0x44) return text.startsWith('DST', at) ? Wanted.DST : text.startsWith('DPT', at) ? Wanted.DPT : -1;
      return -1;
    }
    case 4:
      return first === 0x55 && text.startsWith('URGP', at) ? Wanted.URGP : -1;
    case 5:
      return first === 0x50 && text.startsWith('PROTO', at) ? Wanted.PROTO : -1;
    default:
      return -1;
  }
}

function isWord(text: string, at: number, length: number, word: string): boolean {
  return length === word.length && text.startsWith(word, at);
}

function sameText(text: string, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (text.charCodeAt(a + i) !== text.charCodeAt(b + i)) return false;
  return true;
}

/** `0` or 1-10 digits without a leading zero (the kernel's %u); its value, or -1. */
function decimalAt(text: string, at: number, length: number): number {
  if (length < 1 || length > 10) return -1;
  if (length > 1 && text.charCodeAt(at) === 0x30) return -1;
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function portAt(text: string, at: number, length: number): number {
  const value = decimalAt(text, at, length);
  return value <= 65535 ? value : -1;
}

// --- Addresses: the kernel's spellings (dotted quad, full-length IPv6) read in place; anything else
// goes through canonicalAddress, so both ways give the same answer.

const scratch = new Uint8Array(16);
/** Family of the last address addressAt returned. */
let lastFamily: Family = 4;

function addressAt(text: string, at: number, length: number): string | undefined {
  if (dottedQuadAt(text, at, length)) {
    lastFamily = 4;
    return formatIPv4(scratch, 0);
  }
  if (fullIPv6At(text, at, length)) {
    lastFamily = 6;
    return formatIPv6(scratch, 0);
  }
  const parsed = canonicalAddress(text.substr(at, length));
  if (!parsed) return undefined;
  lastFamily = parsed.family;
  return parsed.address;
}

/** Strict dotted quad as node's isIPv4 accepts it (no leading zeros, each part 0-255), into scratch. */
function dottedQuadAt(text: string, at: number, length: number): boolean {
  const end = at + length;
  let p = at;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (p >= end || text.charCodeAt(p) !== 0x2e) return false;
      p++;
    }
    const digitsStart = p;
    let value = 0;
    while (p < end && p - digitsStart < 4) {
      const digit = text.charCodeAt(p) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      p++;
    }
    const digits = p - digitsStart;
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && text.charCodeAt(digitsStart) === 0x30)) return false;
    scratch[part] = value;
  }
  return p === end;
}

/** Eight groups of exactly four hex digits, as the kernel's %pI6 prints them, into scratch. */
function fullIPv6At(text: string, at: number, length: number): boolean {
  if (length !== 39) return false;
  for (let group = 0; group < 8; group++) {
    const p = at + group * 5;
    if (group < 7 && text.charCodeAt(p + 4) !== 0x3a) return false;
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const digit = hexDigit(text.charCodeAt(p + i));
      if (digit < 0) return false;
      value = (value << 4) | digit;
    }
    scratch[2 * group] = value >> 8;
    scratch[2 * group + 1] = value & 0xff;
  }
  return true;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

// A server is knocked at on one or two of its own addresses and interfaces: reuse the last spelling's
// result instead of building strings per line.
let lastDestinationText = '';
let lastDestination: string | undefined;
let lastDestinationFamily: Family = 4;
let lastInterface = '';

function destinationAt(text: string, at: number, length: number): string | undefined {
  if (lastDestination !== undefined && isWord(text, at, length, lastDestinationText)) {
    lastFamily = lastDestinationFamily;
    return lastDestination;
  }
  const address = addressAt(text, at, length);
  if (address !== undefined) {
    lastDestinationText = text.substr(at, length);
    lastDestination = address;
    lastDestinationFamily = lastFamily;
  }
  return address;
}

function interfaceAt(text: string, at: number, length: number): string {
  if (!isWord(text, at, length, lastInterface)) lastInterface = text.substr(at, length);
  return lastInterface;
}

function reject(reason: LogLineRejectReason): { ok: false; reason: LogLineRejectReason } {
  return { ok: false, reason };
}
