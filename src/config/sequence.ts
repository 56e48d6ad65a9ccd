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

export function formatSequence(steps: readonly KnockStep[]): string {
  return steps.map((s) => `${s.port}:${s.protocol}`).join(',');
}
