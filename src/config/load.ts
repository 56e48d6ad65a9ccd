import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Config, Door, IncludeDirective } from '../core/types.js';
import { decodeBase32 } from './base32.js';
import { matchingNames, mergeDropIns, parseIncludePattern } from './include.js';
import { checkOneTimeSequences } from './one-time.js';
import { MIN_SECRET_BYTES, parseConfig } from './parse.js';
import { ConfigError, throwIfAny, type ConfigProblem } from './problems.js';
import { readTrustedFile } from '../trust/open.js';
import type { TrustKind } from '../trust/policy.js';

/** Far above any real knockd.conf; stops a wrong path (a log, an image) from being slurped. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Group and other bits: a secret must be the owner's alone (like ssh's private keys). */
const GROUP_OTHER_BITS = 0o077;

/**
 * Reads, parses and completes a knockd.conf: `Sequence_Secret = @/path` files are read (base32
 * text, mode without group/other bits), One_Time_Sequences files are read and checked, and a
 * secret written inline is refused when the config itself is readable by group or other.
 * `Include` drop-ins are read in lexical order, each validated with its own file:line.
 * Unreadable config -> NFK_CONFIG_READ; everything else -> ConfigError (NFK_CONFIG_*).
 */
export async function loadConfig(path: string): Promise<Config> {
  const main = await readConfigFile(path);
  const parsed = parseConfig(main.text, path);
  const files = new Map<string, Stats>([[path, main.stats]]);
  const dropIns: Config[] = [];
  const problems: ConfigProblem[] = [];
  for (const include of parsed.includes ?? []) {
    for (const file of await expandInclude(include, path)) {
      if (files.has(file)) continue; // matched by two Include lines: read once
      // The same trusted open as the main file: a drop-in is as much the root daemon's input.
      const read = await readConfigFile(file);
      files.set(file, read.stats);
      try {
        dropIns.push(parseConfig(read.text, file, { dropIn: true }));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
      }
    }
  }
  // Every broken drop-in is reported at once, and any one refuses the whole config (and reload).
  throwIfAny(problems);
  const config = mergeDropIns(parsed, dropIns);
  for (const door of config.doors) {
    // Only doors that have one: an await per door and kind is a promise and a turn each, 20 000 doors or not.
    const file = door.file ?? path;
    if (door.timeSequence) await completeTimeSequence(door, file, files.get(file) as Stats, problems);
    if (door.oneTimeFile !== undefined) await checkOneTimeFile(door, file, problems);
  }
  throwIfAny(problems);
  return config;
}

async function readConfigFile(path: string): Promise<{ text: string; stats: Stats }> {
  const { bytes, stats } = await readRegularFile(path, 'config', MAX_CONFIG_BYTES).catch((error: unknown) => {
    throw readError(path, 'config file', error);
  });
  return { text: decodeUtf8(bytes, path), stats };
}

/** The files an Include line names now, in lexical order; a missing directory is an error at its line. */
async function expandInclude(include: IncludeDirective, configPath: string): Promise<string[]> {
  const parsed = parseIncludePattern(include.pattern);
  if (!parsed.ok) throw new NfknockError(ErrorCodes.INTERNAL, `Include pattern accepted by the parser but not here: ${include.pattern}`);
  const { directory } = parsed.value;
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    throw new ConfigError([
      {
        code: ErrorCodes.CONFIG_INVALID,
        message: `Include: ${readError(directory, 'directory', error).message}`,
        file: configPath,
        line: include.line,
        text: include.pattern,
      },
    ]);
  }
  return matchingNames(parsed.value, names).map((name) => join(directory, name));
}

/** Also completes a client.conf alias (src/client), so a secret file is refused there exactly as here. */
export async function completeTimeSequence(door: Pick<Door, 'name' | 'line' | 'keyLines' | 'timeSequence'>, configPath: string, configStats: Stats, problems: ConfigProblem[]): Promise<void> {
  const spec = door.timeSequence;
  if (!spec) return;
  const line = door.keyLines['sequence_secret'] ?? door.line;
  const refuse = (message: string, text: string) => problems.push({ code: ErrorCodes.CONFIG_INVALID, message, file: configPath, line, text });
  if (spec.secretFile === undefined) {
    if ((configStats.mode & GROUP_OTHER_BITS) !== 0) {
      refuse(
        `door [${door.name}]: Sequence_Secret is written in a file that group/other can access (mode ${modeText(configStats)}): chmod 600 ${configPath}, or use Sequence_Secret = @/path/to/secret`,
        'Sequence_Secret = (not shown)',
      );
    }
    return;
  }
  const secretPath = spec.secretFile;
  let read: { bytes: Buffer; stats: Stats };
  try {
    read = await readRegularFile(secretPath, 'secret', 4096);
  } catch (error) {
    refuse(`door [${door.name}]: ${readError(secretPath, 'secret file', error).message}`, `@${secretPath}`);
    return;
  }
  const text = new TextDecoder('utf-8').decode(read.bytes);
  const decoded = decodeBase32(text);
  if (!decoded.ok) refuse(`door [${door.name}]: secret file ${secretPath}: ${decoded.message}`, `@${secretPath}`);
  else if (decoded.bytes.length < MIN_SECRET_BYTES) {
    refuse(`door [${door.name}]: secret file ${secretPath} holds ${decoded.bytes.length} bytes; at least ${MIN_SECRET_BYTES} are needed`, `@${secretPath}`);
  } else spec.secret = decoded.bytes;
}

async function checkOneTimeFile(door: Door, configPath: string, problems: ConfigProblem[]): Promise<void> {
  if (door.oneTimeFile === undefined) return;
  const file = door.oneTimeFile;
  let bytes: Buffer;
  try {
    ({ bytes } = await readRegularFile(file, 'one-time', MAX_CONFIG_BYTES));
  } catch (error) {
    problems.push({
      code: ErrorCodes.CONFIG_INVALID,
      message: `door [${door.name}]: ${readError(file, 'one-time sequences file', error).message}`,
      file: configPath,
      line: door.keyLines['one_time_sequences'] ?? door.line,
      text: file,
    });
    return;
  }
  try {
    checkOneTimeSequences(decodeUtf8(bytes, file), file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
}

/** Trusted like OpenSSH's StrictModes (src/trust/): no symlink, owner root or us, mode, ancestors. */
export function readRegularFile(path: string, kind: TrustKind, maxBytes: number): Promise<{ bytes: Buffer; stats: Stats }> {
  return readTrustedFile(path, kind, maxBytes);
}

export function readError(path: string, what: string, error: unknown): NfknockError {
  if (error instanceof NfknockError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  return new NfknockError(ErrorCodes.CONFIG_READ, `cannot read ${what} ${path}: ${errno ?? 'error'} (${detail})`, {
    cause: error,
  });
}

/**
 * Commands are handed to /bin/sh as JavaScript strings, which Node encodes as UTF-8: bytes that
 * are not UTF-8 could not be passed on unchanged, so they are refused at their line.
 */
export function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const chunk = bytes.subarray(start, end < 0 ? bytes.length : end);
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(chunk);
      } catch {
        throw new ConfigError([
          { code: ErrorCodes.CONFIG_SYNTAX, message: 'not valid UTF-8', file, line, text: new TextDecoder('utf-8').decode(chunk) },
        ]);
      }
      if (end < 0) throw new NfknockError(ErrorCodes.INTERNAL, `${file}: invalid UTF-8 not found again line by line`);
      start = end + 1;
    }
  }
}

function modeText(stats: Stats): string {
  return `0${(stats.mode & 0o777).toString(8)}`;
}
