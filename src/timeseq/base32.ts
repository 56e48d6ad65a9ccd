import { ErrorCodes, NfknockError } from '../core/errors.js';

/**
 * RFC 4648 section 6 base32, the alphabet authenticator apps and `oathtool` use for shared secrets,
 * so a secret can be typed, pasted, or read aloud without ambiguity about case.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function encodeBase32(bytes: Uint8Array, options: { padding?: boolean } = {}): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  if (options.padding !== false) while (out.length % 8 !== 0) out += '=';
  return out;
}

/** Lengths (mod 8) a base32 text without padding can have; others cannot come from whole bytes. */
const VALID_TAIL_LENGTHS = new Set([0, 2, 4, 5, 7]);

/**
 * Case-insensitive, padding optional. Refuses anything that is not exactly the encoding of some byte
 * string: a typo in a secret must be an error, never a silently different secret.
 */
export function decodeBase32(text: string): Uint8Array {
  // ASCII-only case folding: toUpperCase() would turn U+017F (long s) into S.
  const upper = text.replace(/[a-z]/g, (c) => c.toUpperCase());
  const firstPad = upper.indexOf('=');
  const body = firstPad < 0 ? upper : upper.slice(0, firstPad);
  if (firstPad >= 0) {
    const padding = upper.slice(firstPad);
    if (!/^=+$/.test(padding)) throw bad('padding "=" may only appear at the end');
    if (upper.length % 8 !== 0) throw bad('with padding, base32 must be a multiple of 8 characters long');
    // Padding is exactly what is needed to reach the next multiple of 8; a full "========" block is invalid.
    if (padding.length >= 8) throw bad('too much padding');
  }
  if (!VALID_TAIL_LENGTHS.has(body.length % 8)) throw bad(`a base32 text cannot be ${body.length} characters long`);

  const out = new Uint8Array(Math.floor((body.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (let i = 0; i < body.length; i++) {
    const value = ALPHABET.indexOf(body.charAt(i));
    if (value < 0) throw bad(`the character at position ${i + 1} is not base32 (A-Z, 2-7)`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[written++] = (buffer >> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  // Leftover bits must be zero, or two different texts would decode to the same bytes.
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) throw bad('the last character has non-zero unused bits');
  return out;
}

/** Never quotes the whole text back: it is usually a secret. */
function bad(reason: string): NfknockError {
  return new NfknockError(ErrorCodes.USAGE, `invalid base32: ${reason}`);
}
