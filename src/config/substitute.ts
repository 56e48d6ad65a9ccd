import { canonicalAddress } from '../core/address.js';
import { ErrorCodes, NfknockError } from '../core/errors.js';

const ADDRESS_TOKEN = '%IP%';
/** nfknock's own token: cmd_timeout in whole seconds, for a kernel backstop in free-text commands. */
const TIMEOUT_TOKEN = '%TIMEOUT%';

/**
 * The last two addresses found canonical (an IPv4 and an IPv6 one, typically): `nfknock check`
 * substitutes its two example addresses into every command of every door.
 */
const recentCanonical: (string | undefined)[] = [undefined, undefined];
let canonicalTurn = 0;

/**
 * Replaces every `%IP%` (case-sensitive, left to right, as knockd's parse_cmd) with the knocker's
 * address, and with `cmdTimeoutMs` every `%TIMEOUT%` with cmd_timeout in whole seconds (nfknock only:
 * `nft add element ... timeout %TIMEOUT%s` gives a free-text door a kernel backstop). The command
 * runs under /bin/sh, so only a canonical address literal may reach it: anything else is a bug
 * upstream and stops here instead of becoming shell text.
 */
export function substituteCommand(command: string, address: string, cmdTimeoutMs?: number): string {
  if (address !== recentCanonical[0] && address !== recentCanonical[1]) {
    if (canonicalAddress(address)?.address !== address) {
      throw new NfknockError(ErrorCodes.INTERNAL, 'refusing to put a non-canonical address into a shell command', {
        location: { text: address },
      });
    }
    recentCanonical[canonicalTurn] = address;
    canonicalTurn ^= 1;
  }
  const withAddress = command.split(ADDRESS_TOKEN).join(address);
  return cmdTimeoutMs === undefined || !withAddress.includes(TIMEOUT_TOKEN) ? withAddress : withAddress.split(TIMEOUT_TOKEN).join(String(Math.ceil(cmdTimeoutMs / 1000)));
}
