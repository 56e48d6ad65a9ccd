import { ErrorCodes, NfknockError } from '../core/errors.js';
import { decodeBase32, encodeBase32 } from './base32.js';
import { TIME_SEQUENCE_LIMITS } from './derive.js';

/**
 * The text form of a shared secret, used in secret files (`Sequence_Secret = @/etc/nfknock/secrets/door`),
 * inline in knockd.conf, and in `--secret-env`: base32 (RFC 4648), case-insensitive, padding optional.
 * Whitespace anywhere is ignored so that a trailing newline or a secret written in groups both work.
 * `where` names the file or variable for the message; the secret itself is never quoted.
 */
export function parseSecretText(text: string, where: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') throw new NfknockError(ErrorCodes.USAGE, `${where}: the secret is empty`);
  let bytes: Uint8Array;
  try {
    bytes = decodeBase32(compact);
  } catch (error) {
    throw new NfknockError(ErrorCodes.USAGE, `${where}: ${(error as Error).message}`, { cause: error });
  }
  if (bytes.length < TIME_SEQUENCE_LIMITS.minSecretBytes) {
    throw new NfknockError(
      ErrorCodes.USAGE,
      `${where}: the secret is ${bytes.length} bytes; at least ${TIME_SEQUENCE_LIMITS.minSecretBytes} are needed (nfknock secret makes 32)`,
    );
  }
  return bytes;
}

/** Unpadded upper-case base32, the form `nfknock secret` prints and writes. */
export function formatSecretText(secret: Uint8Array): string {
  return encodeBase32(secret, { padding: false });
}
