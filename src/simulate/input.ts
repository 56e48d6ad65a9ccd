import type { KnockEvent } from '../core/types.js';
import { KERNEL_FACILITY, parseKmsgRecord } from '../decode/kmsg.js';
import { parseLogLine } from '../decode/log-line.js';
import { filterRejection } from '../sources/filtering-sink.js';
import { parseSyslogLine } from '../decode/syslog.js';

/**
 * One line of a kernel log as saved by an administrator, in any of the shapes it is usually found in.
 * Each format tells which clock its stamp is on and whether the line proves that the kernel wrote it:
 *
 *   kmsg                `6,1234,94631234,-;portknock: IN=...`     (`cat /dev/kmsg`)    boot clock, facility known
 *   dmesg-raw           `<4>[   94.631234] portknock: IN=...`      (`dmesg -r`)         boot clock, facility known
 *   dmesg               `[   94.631234] portknock: IN=...`         (`dmesg`)            boot clock, origin unknown
 *   dmesg-ctime         `[Sun Nov 22 10:46:38 2026] portknock: ...` (`dmesg -T`)         local wall clock, seconds
 *   syslog-rfc3339      `2026-11-22T10:09:01.123456+00:00 host kernel: portknock: IN=...`  (also journalctl -o short-iso[-precise])
 *   syslog-traditional  `Nov 22 10:09:01 host kernel: [ 94.63] portknock: IN=...`          (also journalctl -k)
 *
 * "Origin unknown": `dmesg` prints userspace writes to /dev/kmsg too, and any local user can put a
 * `kernel:`-tagged line into a general syslog file with `logger -t kernel`. Only the facility of a
 * kmsg record (or of `dmesg -r`) proves a line came from the kernel.
 */
export type InputFormat = 'kmsg' | 'dmesg-raw' | 'dmesg' | 'dmesg-ctime' | 'syslog-rfc3339' | 'syslog-traditional';

/** `boot`: milliseconds since boot; `wall`: epoch milliseconds. */
export type ClockKind = 'boot' | 'wall';

export interface DecodedInputLine {
  ok: true;
  event: KnockEvent;
  format: InputFormat;
  clock: ClockKind;
  /** False when the stamp has whole seconds only, so the order of knocks within a second comes from line order. */
  precise: boolean;
  /** True when the line itself proves the kernel wrote it (the facility of a kmsg record). */
  kernelVerified: boolean;
}

export interface SkippedInputLine {
  ok: false;
  reason: string;
  format?: InputFormat;
}

export interface LineContext {
  prefix: string;
  /** Only knocks that came in on this interface count (the config's Interface). */
  interface?: string;
  /** Reference instant for stamps without a year: the year that puts the stamp closest to it wins. */
  reference: number;
  /** Minutes east of UTC of the local time the log was written in, at about `epochMs`. */
  utcOffsetAt(epochMs: number): number;
  /** Epoch ms of the boot, to put boot-clock stamps on the wall clock; undefined keeps them since boot. */
  bootTimeMs?: number;
}

const KMSG_HEADER = /^[0-9]{1,4},[0-9]{1,20},[0-9]{1,20},[-c+][^;]*;/;
const KMSG_DICTIONARY = /^ [A-Za-z_][A-Za-z0-9_]*=/;
const DMESG_RAW = /^<([0-9]{1,4})>\[ *([0-9]+)\.([0-9]{1,9})\] ?/;
const DMESG = /^\[ *([0-9]+)\.([0-9]{1,9})\] ?/;
const DMESG_CTIME = /^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ 0-9][0-9]) ([0-2][0-9]):([0-5][0-9]):([0-5][0-9]) ([0-9]{4})\] ?/;
/** journalctl's short-iso writes `+0100` on older systemd; RFC 3339 and our parser want `+01:00`. */
const COMPACT_ZONE = /^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2})([0-9]{2}) /;
const RFC3339_START = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Pure: classifies one input line and decodes its knock, or says why it is not one. */
export function decodeInputLine(rawLine: string, context: LineContext): DecodedInputLine | SkippedInputLine {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (line.trim() === '') return { ok: false, reason: 'empty-line' };
  if (KMSG_HEADER.test(line)) return decodeKmsg(line, context);
  if (KMSG_DICTIONARY.test(line)) return { ok: false, reason: 'kmsg-dictionary-line', format: 'kmsg' };

  const raw = DMESG_RAW.exec(line);
  if (raw) {
    const facility = Number(raw[1]) >> 3;
    if (facility !== KERNEL_FACILITY) return { ok: false, reason: 'not-kernel', format: 'dmesg-raw' };
    const sinceBoot = Number(raw[2]) * 1000 + fractionMs(raw[3] as string);
    return knock(line.slice(raw[0].length), 'dmesg-raw', bootClock(sinceBoot, context), true, true, context);
  }
  const plain = DMESG.exec(line);
  if (plain) {
    const sinceBoot = Number(plain[1]) * 1000 + fractionMs(plain[2] as string);
    return knock(line.slice(plain[0].length), 'dmesg', bootClock(sinceBoot, context), true, false, context);
  }
  const ctime = DMESG_CTIME.exec(line);
  if (ctime) {
    const at = ctimeMillis(ctime, context);
    if (at === undefined) return { ok: false, reason: 'bad-timestamp', format: 'dmesg-ctime' };
    return knock(line.slice(ctime[0].length), 'dmesg-ctime', { at, clock: 'wall' }, false, false, context);
  }
  return decodeSyslog(line, context);
}

function decodeKmsg(line: string, context: LineContext): DecodedInputLine | SkippedInputLine {
  const record = parseKmsgRecord(`${line}\n`);
  if (!record.ok) return { ok: false, reason: record.reason, format: 'kmsg' };
  if (record.value.facility !== KERNEL_FACILITY) return { ok: false, reason: 'not-kernel', format: 'kmsg' };
  return knock(record.value.message, 'kmsg', bootClock(record.value.usec / 1000, context), true, true, context);
}

function decodeSyslog(line: string, context: LineContext): DecodedInputLine | SkippedInputLine {
  const normalised = line.replace(COMPACT_ZONE, '$1:$2 ');
  const offset = context.utcOffsetAt(context.reference);
  const parsed = parseSyslogLine(normalised, context.reference, offset);
  const format: InputFormat = RFC3339_START.test(line) ? 'syslog-rfc3339' : 'syslog-traditional';
  if (!parsed.ok) {
    // Nothing we know starts the line: say so rather than blame a timestamp that was never there.
    return parsed.reason === 'syslog-bad-timestamp' && !looksStamped(line) ? { ok: false, reason: 'unrecognised-format' } : { ok: false, reason: parsed.reason, format };
  }
  let at = parsed.value.timestamp;
  if (format === 'syslog-traditional') {
    // The offset may differ at the stamp itself (DST): parse again with the offset in force then.
    const exact = context.utcOffsetAt(at);
    if (exact !== offset) {
      const again = parseSyslogLine(normalised, context.reference, exact);
      if (again.ok) at = again.value.timestamp;
    }
  }
  return knock(parsed.value.message, format, { at, clock: 'wall' }, parsed.value.precise, false, context);
}

function knock(
  message: string,
  format: InputFormat,
  time: { at: number; clock: ClockKind },
  precise: boolean,
  kernelVerified: boolean,
  context: LineContext,
): DecodedInputLine | SkippedInputLine {
  const decoded = parseLogLine(message, context.prefix);
  if (!decoded.ok) return { ok: false, reason: decoded.reason, format };
  const event: KnockEvent = { ...decoded.value, at: time.at };
  const refused = context.interface === undefined ? undefined : filterRejection(event, { interface: context.interface });
  if (refused !== undefined) return { ok: false, reason: refused, format };
  return { ok: true, event, format, clock: time.clock, precise, kernelVerified };
}

function bootClock(sinceBootMs: number, context: LineContext): { at: number; clock: ClockKind } {
  const rounded = Math.round(sinceBootMs);
  return context.bootTimeMs === undefined ? { at: rounded, clock: 'boot' } : { at: context.bootTimeMs + rounded, clock: 'wall' };
}

/** Milliseconds from the digits after the decimal point (`631234` -> 631.234). */
function fractionMs(digits: string): number {
  return Number(`0.${digits}`) * 1000;
}

function ctimeMillis(match: RegExpExecArray, context: LineContext): number | undefined {
  const [, monthName, day, hour, minute, second, year] = match;
  const month = MONTHS.indexOf(monthName as string);
  if (month < 0) return undefined;
  const local = Date.UTC(Number(year), month, Number((day as string).trim()), Number(hour), Number(minute), Number(second));
  if (new Date(local).getUTCDate() !== Number((day as string).trim())) return undefined;
  return local - context.utcOffsetAt(local) * 60_000;
}

function looksStamped(line: string): boolean {
  return RFC3339_START.test(line) || /^[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:/.test(line);
}
