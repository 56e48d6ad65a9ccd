/**
 * The values of `[options]` keys, checked one way for both places they come from: knockd.conf
 * (src/config/parse.ts) and the nfknockd flags that override it (src/daemon/options.ts). Pure.
 */
import type { FirewallKind, SourceKind } from '../core/types.js';
import { asciiLower, cTrim } from './text.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

export const SOURCE_KINDS: readonly SourceKind[] = ['nflog', 'kmsg', 'file'];
const INTERFACE_NAME = /^[A-Za-z0-9_.:@+-]{1,15}$/;
/** Safe to paste into iptables/nft rules and to find in a kernel log line; LOG allows 29 bytes. */
const LOG_PREFIX = /^[A-Za-z0-9_.:-]{1,29}$/;
const WHOLE_NUMBER = /^[0-9]{1,15}$/;
export const MAX_ATTEMPTS_LIMIT = 10_000_000;

export function wholeNumber(text: string): number | undefined {
  return WHOLE_NUMBER.test(text) ? Number(text) : undefined;
}

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(message: string): Checked<T> => ({ ok: false, message });

/** `name` is how the key is spelt in messages (LogFile, StateDir...). */
export function checkAbsolutePath(name: string, text: string): Checked<string> {
  return text.startsWith('/') && !text.includes('\u0000') ? ok(text) : bad(`${name} must be an absolute path`);
}

export function checkInterface(text: string): Checked<string> {
  return INTERFACE_NAME.test(text) ? ok(text) : bad('Interface must be an interface name (1-15 of A-Z a-z 0-9 _ . : @ + -)');
}

export function checkSource(text: string): Checked<SourceKind> {
  const kind = asciiLower(text) as SourceKind;
  return SOURCE_KINDS.includes(kind) ? ok(kind) : bad(`Source must be one of ${SOURCE_KINDS.join(', ')}`);
}

export function checkNflogGroup(text: string): Checked<number> {
  const group = wholeNumber(text);
  return group !== undefined && group <= 65535 ? ok(group) : bad('NflogGroup must be a whole number from 0 to 65535');
}

export function checkLogPrefix(text: string): Checked<string> {
  return LOG_PREFIX.test(text) ? ok(text) : bad('LogPrefix must be 1-29 of A-Z a-z 0-9 _ . : -');
}

export function checkMaxAttempts(text: string): Checked<number> {
  const max = wholeNumber(text);
  return max !== undefined && max >= 1 && max <= MAX_ATTEMPTS_LIMIT ? ok(max) : bad(`MaxAttempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}`);
}

/**
 * An RFC 3164 TAG: what logcheck rules and SIEM parsers match on. Letters, digits and `_ . -`
 * only: a space, `:` or `[` would end the tag early and the rest would be read as the message.
 */
const SYSLOG_TAG = /^[A-Za-z0-9_.-]{1,32}$/;

export function checkSyslogTag(text: string): Checked<string> {
  return SYSLOG_TAG.test(text) ? ok(text) : bad('SyslogTag must be 1-32 of A-Z a-z 0-9 _ . -');
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

export function checkSyslogFacility(text: string): Checked<SyslogFacility> {
  const lower = asciiLower(text);
  const facility = SYSLOG_FACILITIES.find((known) => known === lower);
  return facility === undefined ? bad(`SyslogFacility must be one of ${SYSLOG_FACILITIES.join(', ')}`) : ok(facility);
}

/** `Firewall` / `--firewall`: the kernel sets `Open =` doors fill (issue 13). */
export const FIREWALL_KINDS: readonly FirewallKind[] = ['nft', 'ipset'];

export function checkFirewall(text: string): Checked<FirewallKind> {
  const name = asciiLower(cTrim(text));
  const kind = FIREWALL_KINDS.find((known) => known === name);
  return kind === undefined ? bad(`Firewall must be one of ${FIREWALL_KINDS.join(', ')}`) : ok(kind);
}

/** nft table names nfknock accepts: they are pasted into nft command lines. */
export const NFT_TABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function checkNftTable(text: string): Checked<string> {
  return NFT_TABLE_NAME_PATTERN.test(text) ? ok(text) : bad('NftTable must be the name of an inet table (letters, digits, _; e.g. filter)');
}
