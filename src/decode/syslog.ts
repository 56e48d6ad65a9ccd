import type { Decoded } from '../core/types.js';

/**
 * One line of a file written by rsyslog, in either of its two stock formats:
 *
 *   traditional   `Nov 22 10:09:01 host kernel: [   94.631234] portknock: IN=...`
 *   RFC 3339      `2026-11-22T10:09:01.123456+00:00 host kernel: portknock: IN=...`
 *
 * The `[ uptime]` stamp is there or not depending on printk.time and imklog's
 * KeepKernelTimestamp; it is dropped from the message either way.
 *
 * Only lines tagged exactly `kernel:` are accepted. In a general file such as /var/log/syslog that
 * is NOT proof of kernel origin: the tag is chosen by whoever sends the message (`logger -t kernel
 * 'portknock: IN=...'` needs no privilege) and the facility is not written to the file. Trust comes
 * from the dedicated file of rules/rsyslog-nfknock.conf: rsyslog writes there only messages that
 * arrived through imklog with facility kern, which userspace cannot produce (the kernel forces
 * LOG_USER on /dev/kmsg writes), and the file is root-only 0600.
 */
export interface SyslogLine {
  /** Epoch ms of the syslog timestamp. */
  timestamp: number;
  /** True when the stamp has sub-second digits (RFC 3339 high precision) and so dates the packet. */
  precise: boolean;
  host: string;
  tag: string;
  /** Message after the tag, the kernel's `[ uptime]` stamp removed. */
  message: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TRADITIONAL = /^([A-Z][a-z]{2}) ([ 1-3][0-9]) ([0-2][0-9]):([0-5][0-9]):([0-5][0-9]|60) /;
const RFC3339 =
  /^([0-9]{4})-([01][0-9])-([0-3][0-9])T([0-2][0-9]):([0-5][0-9]):([0-5][0-9]|60)(?:\.([0-9]{1,9}))?(Z|[+-][0-2][0-9]:[0-5][0-9]) /;
const HOST_AND_TAG = /^([^ ]+) ([^ ]+) /;
const UPTIME = /^\[ *[0-9]+\.[0-9]+\] ?/;

/**
 * @param now epoch ms, to give traditional stamps (which have no year) the year that puts them
 *   closest to now, so a `Dec 31` line read on Jan 1 belongs to last year.
 * @param utcOffsetMinutes offset of the logger's local time for traditional stamps at that moment
 *   (local = UTC + offset); the edge passes the host's, tests pass a fixed one.
 */
export function parseSyslogLine(line: string, now: number, utcOffsetMinutes = 0): Decoded<SyslogLine> {
  const stamped = parseTimestamp(line, now, utcOffsetMinutes);
  if (typeof stamped === 'string') return { ok: false, reason: stamped };
  const after = line.slice(stamped.length);
  const hostAndTag = HOST_AND_TAG.exec(after);
  if (!hostAndTag) return { ok: false, reason: 'syslog-no-tag' };
  const tag = hostAndTag[2] as string;
  if (tag !== 'kernel:') return { ok: false, reason: 'not-kernel' };
  let message = after.slice(hostAndTag[0].length);
  const uptime = UPTIME.exec(message);
  if (uptime) message = message.slice(uptime[0].length);
  return {
    ok: true,
    value: { timestamp: stamped.timestamp, precise: stamped.precise, host: hostAndTag[1] as string, tag, message },
  };
}

interface Stamp {
  timestamp: number;
  precise: boolean;
  length: number;
}

function parseTimestamp(line: string, now: number, utcOffsetMinutes: number): Stamp | 'syslog-bad-timestamp' {
  const rfc = RFC3339.exec(line);
  if (rfc) {
    const [, year, month, day, hour, minute, second, fraction, zone] = rfc;
    const base = utcMillis(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second));
    if (base === undefined) return 'syslog-bad-timestamp';
    const offset = zone === 'Z' ? 0 : zoneMinutes(zone as string);
    const fractionMs = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
    return { timestamp: base - offset * 60_000 + fractionMs, precise: fraction !== undefined, length: rfc[0].length };
  }
  const old = TRADITIONAL.exec(line);
  if (old) {
    const [, monthName, day, hour, minute, second] = old;
    const month = MONTHS.indexOf(monthName as string) + 1;
    if (month === 0) return 'syslog-bad-timestamp';
    const nowYear = new Date(now + utcOffsetMinutes * 60_000).getUTCFullYear();
    let best: number | undefined;
    for (const year of [nowYear - 1, nowYear, nowYear + 1]) {
      const local = utcMillis(year, month, Number((day as string).trim()), Number(hour), Number(minute), Number(second));
      if (local === undefined) continue; // Feb 29 outside leap years
      const candidate = local - utcOffsetMinutes * 60_000;
      if (best === undefined || Math.abs(candidate - now) < Math.abs(best - now)) best = candidate;
    }
    if (best === undefined) return 'syslog-bad-timestamp';
    return { timestamp: best, precise: false, length: old[0].length };
  }
  return 'syslog-bad-timestamp';
}

function utcMillis(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || hour > 23) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls Feb 30 over into March: reject dates that do not exist.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms + (second === 60 ? 1000 : 0);
}

function zoneMinutes(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}

/**
 * imkmsg stamps a record `gettimeofday() - sysinfo().uptime + kmsg usec`, and sysinfo rounds the
 * uptime up to whole seconds: stamps run up to 1 s early, by a different amount for each line.
 */
export const REPLAY_TOLERANCE_MS = 2000;
/** Bounds the memory of recent lines under a flood. */
const MAX_RECENT_LINES = 100_000;

/**
 * Recognises kernel lines that rsyslog wrote a second time: imkmsg re-reads the whole ring buffer
 * whenever rsyslogd starts (measured with rsyslog 8.2302), so a restart writes every knock still in
 * the buffer into the file again, with its old stamp. A line is a replay when its precise stamp is
 * more than REPLAY_TOLERANCE_MS before the newest seen, or when it repeats the exact message of a line
 * stamped within that tolerance (an identical packet, IP ID and ports included, is a retransmission,
 * which the matcher ignores anyway). Whole-second stamps are not judged. Pure: feed it in file order.
 * Limit: a wall clock stepped back further than the tolerance makes new lines look replayed until it
 * has caught up again.
 */
export class SyslogReplayGuard {
  private newest: number | undefined;
  /** Lines stamped within REPLAY_TOLERANCE_MS of the newest, oldest first. */
  private readonly recent: { stamp: number; message: string }[] = [];
  private readonly recentMessages = new Set<string>();

  /** True for a replay; otherwise records the line as seen and returns false. */
  isReplay(line: Pick<SyslogLine, 'timestamp' | 'precise' | 'message'>): boolean {
    if (!line.precise) return false;
    const stamp = line.timestamp;
    if (this.newest !== undefined && stamp < this.newest - REPLAY_TOLERANCE_MS) return true;
    if (this.recentMessages.has(line.message)) return true;
    this.newest = Math.max(this.newest ?? stamp, stamp);
    this.recent.push({ stamp, message: line.message });
    this.recentMessages.add(line.message);
    const horizon = this.newest - REPLAY_TOLERANCE_MS;
    for (;;) {
      const oldest = this.recent[0];
      if (oldest === undefined || (oldest.stamp >= horizon && this.recent.length <= MAX_RECENT_LINES)) break;
      this.recent.shift();
      this.recentMessages.delete(oldest.message);
    }
    return false;
  }
}
