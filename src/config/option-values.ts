/**
 * Checks for option values that come both from `[options]` and from nfknockd's flags: one check
 * per kind of value, so the file and the command line accept exactly the same things. Pure; the
 * caller turns a problem into a config problem (with its line) or a usage error (with its flag).
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Relative paths would resolve against the working directory, which differs under systemd. */
export function checkAbsolutePath(text: string, name: string): Checked<string> {
  return text.startsWith('/') ? { ok: true, value: text } : { ok: false, problem: `${name} must be an absolute path` };
}

/**
 * An RFC 3164 TAG: what logcheck rules and SIEM parsers match on. Letters, digits and `_ . -`
 * only: a space, `:` or `[` would end the tag early and the rest would be read as the message.
 */
const SYSLOG_TAG = /^[A-Za-z0-9_.-]{1,32}$/;

export function checkSyslogTag(text: string, name: string): Checked<string> {
  return SYSLOG_TAG.test(text) ? { ok: true, value: text } : { ok: false, problem: `${name} must be 1-32 of A-Z a-z 0-9 _ . -` };
}

/**
 * logger(1)'s facility names. `kern` is not among them: a process cannot log as the kernel, and
 * kernel-facility lines are what the kmsg and file sources trust.
 */
export const SYSLOG_FACILITIES = [
  'user', 'daemon', 'auth', 'authpriv', 'syslog', 'mail', 'news', 'uucp', 'cron', 'lpr', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

export function checkSyslogFacility(text: string, name: string): Checked<SyslogFacility> {
  const lower = text.toLowerCase();
  const facility = SYSLOG_FACILITIES.find((known) => known === lower);
  return facility === undefined ? { ok: false, problem: `${name} must be one of ${SYSLOG_FACILITIES.join(', ')}` } : { ok: true, value: facility };
}
