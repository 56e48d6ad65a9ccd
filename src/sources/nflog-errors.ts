import { readFileSync } from 'node:fs';
import { ErrorCodes, NfknockError } from '../core/errors.js';

/** What the NFLOG source says when the kernel refuses one of its requests: who holds the group, or which capability is missing. */

const EPERM = 1;
const EBUSY = 16;

export function nflogRequestError(group: number, what: string, errno: number, procNfnetlinkLog: string | undefined, cause?: unknown): NfknockError {
  const holder = errno === EPERM || errno === EBUSY ? groupHolder(group, procNfnetlinkLog) : undefined;
  if (holder !== undefined) {
    return new NfknockError(
      ErrorCodes.SOURCE_UNAVAILABLE,
      `NFLOG group ${group} is already bound by another netlink socket (port ${holder}${processHint(holder)}); stop the other reader (ulogd, another nfknockd) or choose another NFLOG group`,
      { cause },
    );
  }
  if (errno === EBUSY) {
    return new NfknockError(ErrorCodes.SOURCE_UNAVAILABLE, `NFLOG group ${group} is already bound (EBUSY); choose another NFLOG group`, { cause });
  }
  if (errno === EPERM) {
    return new NfknockError(
      ErrorCodes.PERMISSION,
      `not allowed to ${what} ${group}: reading NFLOG needs CAP_NET_ADMIN (run as root, or grant the capability, e.g. AmbientCapabilities=CAP_NET_ADMIN in the systemd unit)`,
      { cause },
    );
  }
  return new NfknockError(ErrorCodes.SOURCE_FAILED, `the kernel refused to ${what} ${group}: ${errnoName(errno)}`, { cause });
}

/** The netlink port holding `group`, from /proc/net/netfilter/nfnetlink_log; undefined if free. */
function groupHolder(group: number, procNfnetlinkLog = '/proc/net/netfilter/nfnetlink_log'): number | undefined {
  let text: string;
  try {
    text = readFileSync(procNfnetlinkLog, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [bound, portid] = line.trim().split(/\s+/).map(Number);
    if (bound === group && portid !== undefined && Number.isInteger(portid)) return portid;
  }
  return undefined;
}

const errnoNames: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 16: 'EBUSY', 22: 'EINVAL', 95: 'EOPNOTSUPP', 105: 'ENOBUFS' };
export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `errno ${errno}`;
}

/** libnl and the netlink package derive a socket's port from the PID (low 22 bits): name it if alive. */
function processHint(portid: number): string {
  const pid = portid & 0x3fffff;
  try {
    return `, probably process ${pid} "${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}"`;
  } catch {
    return '';
  }
}
