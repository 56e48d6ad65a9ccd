/**
 * What a root daemon may trust, decided like OpenSSH's StrictModes: pure functions over stat-like
 * records, so every rule is unit- and property-tested; src/trust/open.ts does the I/O.
 *
 * - Owner: root or the daemon's own user (anyone else could rewrite the file between two reads).
 * - No group/other write on anything trusted; secrets, one-time sequences and the kernel log also
 *   no group/other read (a sequence anyone can read is no secret; a kernel log others can read is
 *   one that others' tools share, and on Debian the adm group's).
 * - Ancestors: root- or daemon-owned directories, not group/other-writable unless sticky (/tmp).
 * - The state directory must belong to the daemon itself: its stop commands run as root.
 */

/** What the daemon opens, and so which rule applies. */
export type TrustKind = 'config' | 'secret' | 'one-time' | 'kernel-log' | 'shared-kernel-log' | 'state-dir' | 'state-file' | 'log-file' | 'pid-file' | 'published-file';

/** The fields of fs.Stats the policy reads. */
export interface StatLike {
  mode: number;
  uid: number;
  nlink?: number;
}

export interface TrustProblem {
  path: string;
  /** "one-time sequences file /etc/x can be read by group/other (mode 0644)" */
  problem: string;
  /** "chmod 600 /etc/x" */
  fix: string;
  /** Not a file of the expected type at all (a directory, FIFO, device): unreadable rather than untrusted. */
  wrongType?: true;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_ISVTX = 0o1000;
const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_ALL = 0o077;

interface Rule {
  what: string;
  directory: boolean;
  /** Group/other bits that must be clear. */
  forbidden: number;
  /** The mode the fix sets. */
  fixMode: string;
  /** Only the daemon's own user may own it (root's files are the daemon's when it runs as root). */
  daemonOwned: boolean;
  /** Written to in place (LogFile, PidFile): a hard link would let the write reach another file. */
  appended?: true;
  /**
   * Its directories may be group-writable (Ubuntu's /var/log is root:syslog 0775): the group is the
   * syslog daemon the file source trusts anyway, and the file itself is opened O_NOFOLLOW and judged.
   */
  groupWritableAncestors?: true;
  /**
   * Public figures replaced whole (MetricsFile, StatsFile): the directories above its own may belong to
   * others (Debian's /var/lib/prometheus is the prometheus user's). Its own directory is still opened
   * O_NOFOLLOW and judged, and the file is created O_EXCL and renamed in through that descriptor, so
   * whoever swaps a directory on the way can only make the daemon write public figures into a
   * directory of their own, never through a link into another file.
   */
  foreignAncestors?: true;
}

const RULES: ReadonlyMap<TrustKind, Rule> = new Map<TrustKind, Rule>([
  ['config', { what: 'config file', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '600', daemonOwned: false }],
  ['secret', { what: 'secret file', directory: false, forbidden: GROUP_OTHER_ALL, fixMode: '600', daemonOwned: false }],
  ['one-time', { what: 'one-time sequences file', directory: false, forbidden: GROUP_OTHER_ALL, fixMode: '600', daemonOwned: false }],
  ['kernel-log', { what: 'KernelLog', directory: false, forbidden: GROUP_OTHER_ALL, fixMode: '600', daemonOwned: false, groupWritableAncestors: true }],
  // Accepted by --accept-shared-kernel-log: kern.log is root:adm 0640 on Debian; its writers are what is forgeable.
  ['shared-kernel-log', { what: 'KernelLog', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '640', daemonOwned: false, groupWritableAncestors: true }],
  ['state-dir', { what: 'state directory', directory: true, forbidden: GROUP_OTHER_WRITE, fixMode: '700', daemonOwned: true }],
  ['state-file', { what: 'state file', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '600', daemonOwned: true }],
  ['log-file', { what: 'LogFile', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '640', daemonOwned: false, appended: true, groupWritableAncestors: true }],
  ['pid-file', { what: 'PidFile', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '644', daemonOwned: false, appended: true, groupWritableAncestors: true }],
  ['published-file', { what: 'metrics file', directory: false, forbidden: GROUP_OTHER_WRITE, fixMode: '644', daemonOwned: false, foreignAncestors: true }],
]);

/** May the directories above a `kind`'s own belong to anyone? (See Rule.foreignAncestors.) */
export function allowsForeignAncestors(kind: TrustKind | undefined): boolean {
  return kind !== undefined && ruleOf(kind).foreignAncestors === true;
}

/** May the directories above a `kind` be group-writable? (See Rule.groupWritableAncestors.) */
export function allowsGroupWritableAncestors(kind: TrustKind | undefined): boolean {
  return kind !== undefined && ruleOf(kind).groupWritableAncestors === true;
}

export function describeKind(kind: TrustKind): string {
  return ruleOf(kind).what;
}

function ruleOf(kind: TrustKind): Rule {
  return RULES.get(kind) as Rule;
}

export function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function typeName(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'a regular file';
    case S_IFDIR:
      return 'a directory';
    case S_IFLNK:
      return 'a symbolic link';
    case 0o010000:
      return 'a FIFO';
    case 0o140000:
      return 'a socket';
    case 0o020000:
    case 0o060000:
      return 'a device';
    default:
      return 'of an unknown type';
  }
}

function acceptableOwner(uid: number, daemonUid: number, daemonOwned: boolean): boolean {
  return uid === daemonUid || (!daemonOwned && uid === 0);
}

/** Why the daemon must not trust `stats` (already fstat()ed on the opened descriptor) as a `kind`. */
export function judgeOpened(path: string, kind: TrustKind, stats: StatLike, daemonUid: number): TrustProblem | undefined {
  const rule = ruleOf(kind);
  const name = `${rule.what} ${path}`;
  const wanted = rule.directory ? S_IFDIR : S_IFREG;
  if ((stats.mode & S_IFMT) !== wanted) {
    return { path, problem: `${name} is ${typeName(stats.mode)}, not ${rule.directory ? 'a directory' : 'a regular file'}`, fix: `point it at ${rule.directory ? 'a directory' : 'a regular file'}`, wrongType: true };
  }
  if (rule.appended && (stats.nlink ?? 1) > 1) {
    return { path, problem: `${name} has ${stats.nlink} hard links: appending to it would write to another name too`, fix: `rm ${path} (nfknockd creates it again)` };
  }
  if (!acceptableOwner(stats.uid, daemonUid, rule.daemonOwned)) {
    const owners = rule.daemonOwned || daemonUid === 0 ? `uid ${daemonUid}` : `root or uid ${daemonUid}`;
    return { path, problem: `${name} is owned by uid ${stats.uid}, not by ${owners} (its owner could change what the daemon runs)`, fix: `chown ${daemonUid} ${path}` };
  }
  const bad = stats.mode & rule.forbidden;
  if (bad !== 0) {
    const access = bad & GROUP_OTHER_WRITE ? 'written' : 'read';
    return { path, problem: `${name} can be ${access} by group/other (mode ${modeText(stats.mode)})`, fix: `chmod ${rule.fixMode} ${path}` };
  }
  return undefined;
}

/**
 * Why a directory on the way to a trusted file (lstat()ed, so symlinks are seen as such) cannot be
 * trusted: whoever can write it can swap the file, or the whole subtree, for their own.
 */
export function judgeAncestor(path: string, stats: StatLike, daemonUid: number, allowGroupWrite = false): TrustProblem | undefined {
  const type = stats.mode & S_IFMT;
  if (type === S_IFLNK) {
    // A symlink can only be replaced by whoever can write its directory, which is checked too.
    if (acceptableOwner(stats.uid, daemonUid, false)) return undefined;
    return { path, problem: `directory ${path} on the way is a symbolic link owned by uid ${stats.uid}`, fix: `use a path without links owned by other users` };
  }
  if (type !== S_IFDIR) return { path, problem: `${path} on the way is ${typeName(stats.mode)}, not a directory`, fix: 'use a path of directories' };
  if (!acceptableOwner(stats.uid, daemonUid, false)) {
    return { path, problem: `directory ${path} on the way is owned by uid ${stats.uid}, who could swap what the daemon trusts`, fix: `chown root ${path}, or move the file to a root-owned directory` };
  }
  if ((stats.mode & (allowGroupWrite ? 0o002 : GROUP_OTHER_WRITE)) !== 0 && (stats.mode & S_ISVTX) === 0) {
    return { path, problem: `directory ${path} on the way can be written by group/other (mode ${modeText(stats.mode)}), who could swap what the daemon trusts`, fix: `chmod go-w ${path}` };
  }
  return undefined;
}

/** The directories to check, from `/` down to the file's own directory. */
export function ancestorsOf(absolutePath: string): string[] {
  const parts = absolutePath.split('/').filter((part) => part !== '');
  const result = ['/'];
  for (let i = 1; i < parts.length; i++) result.push(`/${parts.slice(0, i).join('/')}`);
  return result;
}

/** One sentence for logs and errors: what is wrong and how to fix it. */
export function describeTrustProblem(problem: TrustProblem): string {
  return `${problem.problem}: ${problem.fix}`;
}

/**
 * Files general syslog rules write: anyone can put a "kernel:" line in them through /dev/log, so a
 * knock read from them can be forged. Only the dedicated file of rules/rsyslog-nfknock.conf holds
 * nothing but what the kernel printed.
 */
const SHARED_LOG_NAMES = new Set(['kern.log', 'syslog', 'messages', 'all.log', 'kernel', 'kern', 'daemon.log', 'user.log', 'debug', 'warn', 'dmesg']);

export function sharedKernelLogProblem(path: string): TrustProblem | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.[0-9]+$/, '');
  if (!SHARED_LOG_NAMES.has(base)) return undefined;
  return {
    path,
    problem: `KernelLog ${path} is a general syslog file: any local user can write a "kernel:" line to /dev/log that lands there and forge a knock`,
    fix: 'install rules/rsyslog-nfknock.conf and use KernelLog = /var/log/nfknock/kernel.log (or Source = nflog); --accept-shared-kernel-log accepts the risk',
  };
}
