/**
 * The StateDir a config names, read leniently: when the config is broken the daemon cannot run, but
 * the doors recorded in *that config's* state dir must still be closed, and no other directory's
 * (another instance may own the default one).
 */
import { defaultOptions } from '../core/types.js';
import { readTrustedFile } from '../trust/open.js';
import { asciiLower, cTrim, splitLines } from './text.js';
import { OPTIONS_SECTION } from './parse.js';

/** Pure: the first `StateDir = /absolute` of the `[options]` section, else the default; undefined when it names one that is not absolute. */
export function stateDirOf(text: string): string | undefined {
  let inOptions = false;
  for (const raw of splitLines(text)) {
    const line = cTrim(raw);
    if (line.startsWith('[')) {
      inOptions = line === `[${OPTIONS_SECTION}]`;
      continue;
    }
    const equals = line.indexOf('=');
    if (!inOptions || line.startsWith('#') || equals < 0 || asciiLower(cTrim(line.slice(0, equals))) !== 'statedir') continue;
    const value = cTrim(line.slice(equals + 1));
    return value.startsWith('/') && !value.includes('\u0000') ? value : undefined;
  }
  return defaultOptions.stateDir;
}

/** The StateDir the config file at `path` names; undefined when the file cannot be read (then no directory is touched). */
export async function stateDirNamedIn(path: string): Promise<string | undefined> {
  try {
    const { bytes } = await readTrustedFile(path, 'config', 16 * 1024 * 1024);
    return stateDirOf(new TextDecoder('utf-8').decode(bytes));
  } catch {
    return undefined;
  }
}
