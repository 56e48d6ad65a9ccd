import type { Decoded } from '../core/types.js';

/**
 * One record as read(2) from /dev/kmsg (Documentation/ABI/testing/dev-kmsg):
 *
 *   "<priority>,<seq>,<usec>,<flag>[,<more>...];<message>\n"
 *   followed by zero or more dictionary lines " KEY=value\n".
 *
 * The kernel escapes bytes < 0x20, >= 0x7f and the backslash in the message as \xNN, so the message
 * holds no newline and a dictionary line can never be faked from inside a message.
 *
 * Who wrote it: the facility. Userspace may write to /dev/kmsg, but devkmsg_write() in
 * kernel/printk/printk.c starts from facility 1 (LOG_USER) and takes the facility of a `<N>` prefix
 * only when `LOG_FACILITY(N) != 0`; `<0>` or `<2048>` (facility 256, masked to 0) both end up as
 * LOG_USER. Verified on 6.18: `echo '<0>x' > /dev/kmsg` reads back as priority 8 (user.emerg).
 * So facility 0 means printk() inside the kernel: only those records may become knocks.
 */
export interface KmsgRecord {
  /** priority >> 3; 0 is the kernel. */
  facility: number;
  /** priority & 7. */
  level: number;
  seq: number;
  /** Kernel timestamp (local_clock, ~CLOCK_MONOTONIC) in microseconds since boot. */
  usec: number;
  /** '-' normal, 'c' / '+' continuation fragments on old kernels. */
  flag: string;
  message: string;
  dictionary: Record<string, string>;
}

export const KERNEL_FACILITY = 0;

const HEADER = /^(0|[1-9][0-9]{0,3}),(0|[1-9][0-9]{0,19}),(0|[1-9][0-9]{0,19}),([-c+])((?:,[^,;]*)*);/;

export function parseKmsgRecord(text: string): Decoded<KmsgRecord> {
  const header = HEADER.exec(text);
  if (!header) return { ok: false, reason: 'kmsg-bad-header' };
  const priority = Number(header[1]);
  const seq = Number(header[2]);
  const usec = Number(header[3]);
  // The facility is a u8 in the kernel: priorities stop at 255 * 8 + 7.
  if (priority > 2047 || !Number.isSafeInteger(seq) || !Number.isSafeInteger(usec)) return { ok: false, reason: 'kmsg-bad-header' };

  const afterHeader = text.slice(header[0].length);
  const newline = afterHeader.indexOf('\n');
  // read(2) always returns a whole record ending in "\n"; without it the record was cut.
  if (newline < 0) return { ok: false, reason: 'kmsg-truncated' };
  const message = afterHeader.slice(0, newline);

  const dictionary: Record<string, string> = Object.create(null) as Record<string, string>;
  const rest = afterHeader.slice(newline + 1);
  if (rest.length > 0) {
    if (!rest.endsWith('\n')) return { ok: false, reason: 'kmsg-truncated' };
    for (const line of rest.slice(0, -1).split('\n')) {
      const eq = line.indexOf('=');
      if (!line.startsWith(' ') || eq < 2) return { ok: false, reason: 'kmsg-bad-dictionary' };
      dictionary[line.slice(1, eq)] = line.slice(eq + 1);
    }
  }
  return {
    ok: true,
    value: {
      facility: priority >> 3,
      level: priority & 7,
      seq,
      usec,
      flag: header[4] as string,
      message,
      dictionary,
    },
  };
}
