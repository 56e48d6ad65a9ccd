import { ErrorCodes, NfknockError } from './errors.js';

/**
 * The one integer parser of every command-line flag: decimal digits only (no sign, exponent, hex or
 * fraction, which Number() would take), surrounding blanks ignored, within `min`..`max`. Anything
 * else is NFK_USAGE with `message`, quoting the text.
 */
export function parseWholeNumber(text: string, rule: { min?: number; max?: number; message: string }): number {
  const digits = text.trim();
  const value = /^\d{1,15}$/.test(digits) ? Number(digits) : NaN;
  if (!(value >= (rule.min ?? 0) && value <= (rule.max ?? Number.MAX_SAFE_INTEGER))) {
    throw new NfknockError(ErrorCodes.USAGE, rule.message, { location: { text } });
  }
  return value;
}

/** A flag's whole number, with the message every CLI gives: `--flag takes a whole number from min to max`. */
export function integerFlag(text: string, flag: string, min: number, max: number): number {
  return parseWholeNumber(text, { min, max, message: `${flag} takes a whole number from ${min} to ${max}` });
}
