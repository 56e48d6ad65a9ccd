/**
 * The kernel operations of an `Open =` door as argument vectors for `nft` / `ipset`, run without a
 * shell. Pure: (opening, knocker, family, timeout) -> what to run.
 *
 * nft: one process, one netlink batch. The nft command line is parsed as a whole and every command in
 * it goes into a single transaction, all applied or none. Kernels before 6.12 cannot change the timeout
 * of an element that exists, and `delete` of an element that is not there (expired, or never added)
 * fails the whole batch. So opening and refreshing are both "add; delete; add with timeout": the first
 * add makes sure the element exists (it is a no-op when it does), the delete removes it, the last add
 * puts it back with the full timeout. No packet sees the set in between. Removing is "add; delete":
 * it succeeds whether the element is still there or already expired.
 *
 * ipset: `add ... timeout N -exist` replaces the timeout of an existing entry; `del ... -exist` succeeds
 * when the entry already expired. Several ports go through one `ipset -exist restore` process.
 */
import type { Family } from '../core/types.js';
import { portText, type DoorOpening, type FirewallKind } from './open-ports.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE_NAME = 'nfknock';

export function nftSetName(family: Family): string {
  return family === 4 ? 'open4' : 'open6';
}

export function ipsetName(family: Family): string {
  return `nfknock-open${family}`;
}

/** One process to run: `argv[0]` is the program (looked up on PATH), `input` goes to its stdin. */
export interface FirewallCall {
  argv: readonly string[];
  input?: string;
}

/** Adds the knocker's entries with a kernel timeout, or renews the timeout of entries already there. */
export function putCall(opening: DoorOpening, source: string, family: Family, timeoutSeconds: number): FirewallCall {
  checkTimeout(timeoutSeconds);
  if (opening.firewall === 'nft') {
    const timed = nftElements(opening, source, ` timeout ${timeoutSeconds}s`);
    const plain = nftElements(opening, source, '');
    return nftCall([['add', plain], ['delete', plain], ['add', timed]], family, opening.table);
  }
  return ipsetCall(opening, source, family, 'add', ['timeout', String(timeoutSeconds)]);
}

/** Removes the knocker's entries; succeeds when they already expired. */
export function removeCall(opening: DoorOpening, source: string, family: Family): FirewallCall {
  if (opening.firewall === 'nft') {
    const plain = nftElements(opening, source, '');
    return nftCall([['add', plain], ['delete', plain]], family, opening.table);
  }
  return ipsetCall(opening, source, family, 'del', []);
}

/** Lists nfknock's set of `family` (the start-time check and `nfknock status` read it). */
export function listCall(firewall: FirewallKind, family: Family, table = NFT_TABLE_NAME): FirewallCall {
  if (firewall === 'nft') return { argv: ['nft', '-j', 'list', 'set', NFT_FAMILY, table, nftSetName(family)] };
  return { argv: ['ipset', 'save', ipsetName(family)] };
}

/**
 * A removal also counts as done when the set itself is gone (the table was reloaded or deleted):
 * then nothing in the kernel can accept the knocker through it. For nft, "File exists" means the
 * batch's first add met an overlapping element (another door's range for the same knocker): this
 * door's own element is not in the set. Anything else is a failed stop, tried again.
 */
export function removalDone(firewall: FirewallKind, outcome: { exitCode: number | null; timedOut: boolean; stderr: string }): boolean {
  if (outcome.exitCode === 0 && !outcome.timedOut) return true;
  if (outcome.exitCode === null || outcome.timedOut) return false;
  return firewall === 'nft' ? /No such file or directory|File exists/.test(outcome.stderr) : /set with the given name does not exist/.test(outcome.stderr);
}

/** The call as one readable line for `running command: ...`: exactly what runs. */
export function describeCall(call: FirewallCall): string {
  const line = call.argv.join(' ');
  if (call.input === undefined) return line;
  return `${line} <<< ${call.input.trimEnd().split('\n').join('; ')}`;
}

/** The fix for a missing set, named in the start-time error. */
export function missingSetHint(firewall: FirewallKind, table = NFT_TABLE_NAME): string {
  if (firewall === 'nft' && table !== NFT_TABLE_NAME) return `add the sets to your table: nfknock rules --format nft --own-table ${table} | nft -f - (docs/deploying.md)`;
  return firewall === 'nft'
    ? 'load nfknock\'s nft table first: nfknock rules --format nft > /etc/nfknock/rules.nft && nft -f /etc/nfknock/rules.nft (with --complete for a whole default-deny table; a host whose own ruleset drops: NftTable and --own-table, docs/deploying.md)'
    : 'create the sets first: nfknock rules --format ipset > /etc/nfknock/ipsets && ipset restore -exist < /etc/nfknock/ipsets';
}

function checkTimeout(seconds: number): void {
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new RangeError(`a kernel timeout must be a whole number of seconds >= 1, not ${seconds}`);
}

function nftElements(opening: DoorOpening, source: string, suffix: string): string {
  return `{ ${opening.ports.map((port) => `${source} . ${port.protocol} . ${portText(port)}${suffix}`).join(', ')} }`;
}

function nftCall(commands: [verb: string, elements: string][], family: Family, table = NFT_TABLE_NAME): FirewallCall {
  const argv = ['nft'];
  commands.forEach(([verb, elements], index) => {
    if (index > 0) argv.push(';');
    argv.push(verb, 'element', NFT_FAMILY, table, nftSetName(family), elements);
  });
  return { argv };
}

function ipsetCall(opening: DoorOpening, source: string, family: Family, verb: 'add' | 'del', extra: string[]): FirewallCall {
  const set = ipsetName(family);
  const elements = opening.ports.map((port) => `${source},${port.protocol}:${portText(port)}`);
  if (elements.length === 1) return { argv: ['ipset', verb, set, elements[0] as string, ...extra, '-exist'] };
  return { argv: ['ipset', '-exist', 'restore'], input: elements.map((element) => `${[verb, set, element, ...extra].join(' ')}\n`).join('') };
}
