import { decodeBase32 as decodeOrThrow, encodeBase32 as encodeWithOptions } from '../timeseq/base32.js';
import { cTrim } from './text.js';


export type Base32Decode = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

/**
 * The config reader collects problems instead of throwing, so it takes the one base32 decoder
 * (src/timeseq/base32.ts, shared with the client) as a result. Messages never quote the secret.
 */
export function decodeBase32(input: string): Base32Decode {
  try {
    return { ok: true, bytes: decodeOrThrow(cTrim(input)) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** Unpadded, as secrets are usually written in configs. */
export function encodeBase32(bytes: Uint8Array): string {
  return encodeWithOptions(bytes, { padding: false });
}
