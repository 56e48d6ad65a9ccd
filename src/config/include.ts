/**
 * `[options] Include = /etc/nfknock/doors.d/*.conf`: drop-in files of doors, as config management
 * writes them (one file per role or service). Pure: the loader lists the directory (readdir) and
 * reads each file through the same function as the main config; this module says which names match
 * and merges the parsed files into one Config, refusing a door name defined twice anywhere.
 */
import { ErrorCodes } from '../core/errors.js';
import type { Config, Door } from '../core/types.js';
import { throwIfAny, type ConfigProblem } from './problems.js';
import { withFirewall } from '../firewall/open-ports.js';

export interface IncludePattern {
  /** The directory to list: absolute, no wildcards. */
  directory: string;
  /** Matches a file name in that directory. */
  matches: (name: string) => boolean;
}

const WILDCARD = /[*?[]/;

/**
 * Wildcards only in the last component (`/etc/nfknock/doors.d/*.conf`): a wildcard directory would
 * let whoever can create a directory anywhere along the path add doors to a root daemon.
 */
export function parseIncludePattern(pattern: string): { ok: true; value: IncludePattern } | { ok: false; message: string } {
  if (!pattern.startsWith('/')) return { ok: false, message: 'Include must be an absolute path or pattern' };
  const slash = pattern.lastIndexOf('/');
  const directory = pattern.slice(0, slash) || '/';
  const base = pattern.slice(slash + 1);
  if (base === '' || base === '.' || base === '..') return { ok: false, message: 'Include must name files, not a directory (e.g. /etc/nfknock/doors.d/*.conf)' };
  if (WILDCARD.test(directory)) return { ok: false, message: 'Include may have wildcards only in the file name, not in a directory' };
  const regex = globRegExp(base);
  if (regex === undefined) return { ok: false, message: 'Include has an unclosed "[" in its pattern' };
  return { ok: true, value: { directory, matches: (name) => regex.test(name) } };
}

/** Shell rules: `*` and `?` never match a leading dot (no editor swap files, no `..`). */
function globRegExp(base: string): RegExp | undefined {
  let source = base.startsWith('.') ? '' : '(?!\\.)';
  for (let i = 0; i < base.length; i++) {
    const char = base[i] as string;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = base.indexOf(']', i + 2);
      if (end < 0) return undefined;
      let body = base.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      source += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = end;
    } else source += char.replace(/[.+(){}|$^\\\]]/g, (c) => `\\${c}`);
  }
  return new RegExp(`^${source}$`, 'u');
}

/** The names that match, in lexical (byte) order: the order the drop-ins are read and reported in. */
export function matchingNames(pattern: IncludePattern, names: readonly string[]): string[] {
  return names.filter(pattern.matches).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The main config with the drop-ins' doors after its own, each door remembering its file. A door
 * name given twice (in two files, or the main file and a drop-in) is refused at the second place.
 */
export function mergeDropIns(main: Config, dropIns: readonly Config[]): Config {
  const seen = new Map<string, { file: string; line: number }>();
  for (const door of main.doors) seen.set(door.name, { file: main.file, line: door.line });
  const problems: ConfigProblem[] = [];
  const doors: Door[] = [...main.doors];
  for (const dropIn of dropIns) {
    for (const door of dropIn.doors) {
      const earlier = seen.get(door.name);
      if (earlier !== undefined) {
        problems.push({
          code: ErrorCodes.CONFIG_SYNTAX,
          message: `door [${door.name}] already defined at ${earlier.file}:${earlier.line}`,
          file: dropIn.file,
          line: door.line,
          text: `[${door.name}]`,
        });
        continue;
      }
      seen.set(door.name, { file: dropIn.file, line: door.line });
      doors.push({ ...door, file: dropIn.file });
    }
  }
  throwIfAny(problems);
  const { includes: _includes, ...rest } = main;
  // A drop-in has no [options]: its Open = doors use the main file's Firewall and NftTable.
  return { ...rest, doors: withFirewall(doors, main.options.firewall, main.options.nftTable) };
}
