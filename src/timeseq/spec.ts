import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { TimeSequenceSpec } from '../core/types.js';
import { parseWholeNumber as parseDigits } from '../core/whole-number.js';

/** Parses `A-B` (e.g. `20000-29999`) as given to `--ports`; the range checks live in timeSequenceProblem. */
export function parsePortRange(text: string): { portMin: number; portMax: number } {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  if (!match) throw new NfknockError(ErrorCodes.USAGE, `port range ${JSON.stringify(text)} must look like 20000-29999`);
  return { portMin: Number(match[1]), portMax: Number(match[2]) };
}

export function parseProtocols(text: string): TimeSequenceSpec['protocols'] {
  const lower = text.trim().toLowerCase();
  if (lower === 'tcp' || lower === 'udp' || lower === 'mixed') return lower;
  throw new NfknockError(ErrorCodes.USAGE, `protocols ${JSON.stringify(text)} must be tcp, udp or mixed`);
}

/** A whole number for flags such as --period and --length; range checks live in timeSequenceProblem. */
export function parseWholeNumber(text: string, what: string): number {
  return parseDigits(text, { max: 999_999_999, message: `${what} ${JSON.stringify(text)} must be a whole number` });
}
