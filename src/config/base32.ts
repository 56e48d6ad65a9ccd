import { cTrim } from './text.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Lengths (mod 8) a base32 text can have once its padding is removed (RFC 4648 section 6). */
const VALID_REMAINDERS = new Set([0, 2, 4, 5, 7]);

export type Base32Decode = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

/**
 * RFC 4648 base32, case-insensitive, padding optional (but if present it must be complete).
 * Messages never include the text: it is a secret.
 */
export function decodeBase32(input: string): Base32Decode {
  const text = cTrim(input);
  const body = text.replace(/=+$/, '');
  if (body.length !== text.length && text.length % 8 !== 0) return { ok: false, message: 'base32 padding is incomplete' };
  if (!VALID_REMAINDERS.has(body.length % 8)) return { ok: false, message: 'base32 text has an impossible length' };
  const bytes = new Uint8Array(Math.floor((body.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const char of body) {
    // ASCII-only case folding: toUpperCase() would turn U+017F (long s) into S.
    const value = ALPHABET.indexOf(char >= 'a' && char <= 'z' ? char.toUpperCase() : char);
    if (value < 0) return { ok: false, message: 'not base32 (RFC 4648: letters A-Z and digits 2-7)' };
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  return { ok: true, bytes };
}

export function encodeBase32(bytes: Uint8Array): string {
  let text = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) text += ALPHABET[(buffer << (5 - bits)) & 31];
  return text;
}
