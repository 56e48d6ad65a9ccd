import { canonicalAddress } from '../core/address.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';

const ADDRESS_TOKEN = '%IP%';

/**
 * Replaces every `%IP%` (case-sensitive, left to right, as knockd's parse_cmd) with the knocker's
 * address. The command runs under /bin/sh, so only a canonical address literal may reach it:
 * anything else is a bug upstream and stops here instead of becoming shell text.
 */
export function substituteCommand(command: string, address: string): string {
  if (canonicalAddress(address)?.address !== address) {
    throw new NfknockError(ErrorCodes.INTERNAL, 'refusing to put a non-canonical address into a shell command', {
      location: { text: address },
    });
  }
  return command.split(ADDRESS_TOKEN).join(address);
}
