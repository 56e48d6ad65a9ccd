import type { KnockStep, Protocol } from '../core/types.js';
import { asciiLower, cTrim } from './text.js';

/** knockd's SEQ_MAX: it refuses longer sequences, and so do we. */
export const MAX_SEQUENCE_STEPS = 32;

export type SequenceParse = { ok: true; steps: KnockStep[] } | { ok: false; message: string; text: string };

const DIGITS = /^[0-9]+$/;

/** A port 1..65535 written in decimal (leading zeros allowed, as atoi() allows them), else undefined. */
export function parsePort(text: string): number | undefined {
  if (!DIGITS.test(text) || text.length > 10) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * `port[:tcp|udp],...` as in knockd's parse_port_sequence, but strict where knockd uses atoi():
 * knockd reads "notaport", "" (a trailing comma) and "7000abc" as ports 0 and 7000 and wraps
 * negatives to 65535+; here each of those is an error, and so is port 0 (no knock can use it).
 * Spaces around ports and protocols are tolerated (knockd tolerates them too).
 */
export function parseSequence(value: string): SequenceParse {
  const scanned = scanPlainSequence(value);
  return scanned ? { ok: true, steps: scanned } : splitSequence(value);
}

/**
 * The definition of `parseSequence`: split at commas and colons, each part trimmed and checked. It
 * explains what the one-pass scan below does not accept (and is exported for the test that holds
 * the scan to it).
 */
export function splitSequence(value: string): SequenceParse {
  if (cTrim(value) === '') return { ok: false, message: 'empty knock sequence', text: value };
  const steps: KnockStep[] = [];
  for (const element of value.split(',')) {
    const parts = element.split(':');
    const portText = cTrim(parts[0] ?? '');
    if (portText === '') return { ok: false, message: 'empty port in knock sequence (stray comma?)', text: value };
    const port = parsePort(portText);
    if (port === undefined) return { ok: false, message: 'bad port in knock sequence (1-65535 expected)', text: cTrim(element) };
    if (parts.length > 2) return { ok: false, message: 'bad knock step (port[:tcp|udp] expected)', text: cTrim(element) };
    let protocol: Protocol = 'tcp';
    if (parts.length === 2) {
      const name = asciiLower(cTrim(parts[1] ?? ''));
      if (name !== 'tcp' && name !== 'udp') return { ok: false, message: 'unknown protocol in knock sequence (tcp or udp expected)', text: cTrim(element) };
      protocol = name;
    }
    steps.push({ port, protocol });
  }
  if (steps.length > MAX_SEQUENCE_STEPS) {
    return { ok: false, message: `too many ports in knock sequence (at most ${MAX_SEQUENCE_STEPS}, as knockd)`, text: value };
  }
  return { ok: true, steps };
}

const COMMA = 44;
const COLON = 58;

function isCSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/**
 * The steps of a well-formed sequence in one pass over its characters, without the strings that
 * splitting makes (a 100 000-line one-time file is 300 000 steps); undefined for anything else,
 * which the general parser then reads and, if it is wrong, explains. For every text it accepts it
 * gives what the general parser gives (a property test holds them together).
 */
function scanPlainSequence(value: string): KnockStep[] | undefined {
  const steps: KnockStep[] = [];
  const length = value.length;
  let i = 0;
  for (;;) {
    while (i < length && isCSpace(value.charCodeAt(i))) i++;
    let port = 0;
    const digitsFrom = i;
    for (let code = value.charCodeAt(i); code >= 48 && code <= 57; code = value.charCodeAt(++i)) port = port * 10 + (code - 48);
    if (i === digitsFrom || i - digitsFrom > 10 || port < 1 || port > 65535) return undefined;
    while (i < length && isCSpace(value.charCodeAt(i))) i++;
    let protocol: Protocol = 'tcp';
    if (value.charCodeAt(i) === COLON) {
      i++;
      while (i < length && isCSpace(value.charCodeAt(i))) i++;
      const name = value.slice(i, i + 3);
      const lower = name === 'tcp' || name === 'udp' ? name : asciiLower(name);
      if (lower !== 'tcp' && lower !== 'udp') return undefined;
      protocol = lower;
      i += 3;
      while (i < length && isCSpace(value.charCodeAt(i))) i++;
    }
    steps.push({ port, protocol });
    if (steps.length > MAX_SEQUENCE_STEPS) return undefined;
    if (i === length) return steps;
    if (value.charCodeAt(i) !== COMMA) return undefined;
    i++;
  }
}

export function formatSequence(steps: readonly KnockStep[]): string {
  return steps.map((s) => `${s.port}:${s.protocol}`).join(',');
}
