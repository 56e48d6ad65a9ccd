import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ErrorCodes, NfknockError } from '../../src/core/errors.js';

/** Debian package that ships each system tool the lab, the demo and the e2e tests call. */
const packageByTool: Record<string, string> = {
  ip: 'iproute2',
  iptables: 'iptables',
  ip6tables: 'iptables',
  'iptables-restore': 'iptables',
  'ip6tables-restore': 'iptables',
  'iptables-save': 'iptables',
  'ip6tables-save': 'iptables',
  sysctl: 'procps',
  nft: 'nftables',
  ipset: 'ipset',
  knockd: 'knockd',
  knock: 'knockd',
  hping3: 'hping3',
  nmap: 'nmap',
  logger: 'bsdutils',
  rsyslogd: 'rsyslog',
  logrotate: 'logrotate',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  runuser: 'util-linux',
  'prometheus-node-exporter': 'prometheus-node-exporter',
  promtool: 'prometheus',
  'fail2ban-regex': 'fail2ban',
  'fail2ban-client': 'fail2ban',
  'systemd-nspawn': 'systemd-container',
  debootstrap: 'debootstrap',
  lintian: 'lintian',
  strip: 'binutils',
  man: 'man-db',
  'dpkg-deb': 'dpkg',
};

// sudo and cron often run with a PATH that lacks the sbin directories where these tools live.
const extraDirectories = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** Absolute path of an executable, or undefined when it is on neither PATH nor the sbin directories. */
export function whichTool(name: string): string | undefined {
  const directories = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extraDirectories];
  for (const directory of directories) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export function missingTools(names: readonly string[]): string[] {
  return names.filter((name) => whichTool(name) === undefined);
}

/** The Debian packages that ship the given tools, each once. */
export function packagesFor(tools: readonly string[]): string[] {
  return [...new Set(tools.map((tool) => packageByTool[tool] ?? tool))];
}

/** The exact command that installs the given tools, e.g. `apt-get install iptables iproute2`. */
export function installHint(tools: readonly string[]): string {
  return `apt-get install ${packagesFor(tools).join(' ')}`;
}

/** Throws NFK_MISSING_TOOL naming every missing tool and the command that installs them. */
export function requireTools(names: readonly string[]): void {
  const missing = missingTools(names);
  if (missing.length === 0) return;
  throw new NfknockError(
    ErrorCodes.MISSING_TOOL,
    `missing system tool${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}; install with: ${installHint(missing)}`,
  );
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
