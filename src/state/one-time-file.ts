/**
 * One_Time_Sequences: after a sequence is used, its line is commented out so it never opens again.
 *
 * knockd 0.8 does this by overwriting the first byte of the line with '#' in place (verified: the line
 * `7000,8000,9000` becomes `#000,8000,9000`). nfknock inserts '#' before the line instead, keeping the
 * used sequence readable for audits; both readers skip the line the same way. The file is replaced
 * atomically with its mode and owner kept, so a crash never leaves a half-written sequence file.
 */
import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { Config, Door, KnockStep } from '../core/types.js';
import type { OneTimeLine } from '../matcher/sequences.js';
import { inParentOf, readTrustedFile } from '../trust/open.js';
import { parseOneTimeSequences } from '../config/one-time.js';

/** Pure: the text with line `lineNumber` (1-based) commented out; unchanged when it already is. */
export function commentOutLine(text: string, lineNumber: number): { text: string; changed: boolean; line: string } | undefined {
  const lines = text.split('\n');
  // A final newline yields an empty last element that is not a line of the file.
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  if (!Number.isInteger(lineNumber) || lineNumber < 1 || lineNumber > count) return undefined;
  const line = lines[lineNumber - 1] as string;
  if (line.trimStart().startsWith('#')) return { text, changed: false, line };
  lines[lineNumber - 1] = `#${line}`;
  return { text: lines.join('\n'), changed: true, line };
}

/**
 * Comments out line `lineNumber` (1-based) of the one-time sequence file. With `expectedLine`, the line
 * (trimmed) must still read as when the sequence was loaded; if someone edited the file meanwhile we
 * refuse rather than burn the wrong sequence. Idempotent: a line already commented out is left alone.
 */
export function markSequenceUsed(path: string, lineNumber: number, expectedLine?: string): Promise<void> {
  // Read-modify-write: two marks on one file (two quick opens) must not run interleaved and lose one.
  const previous = queues.get(path) ?? Promise.resolve();
  const next = previous.then(() => markNow(path, lineNumber, expectedLine));
  const settled = next.catch(() => undefined);
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return next;
}

const queues = new Map<string, Promise<unknown>>();
/** As the config loader's limit: far above any real file. */
const MAX_ONE_TIME_BYTES = 16 * 1024 * 1024;

/**
 * Burns the unused line that holds `steps`, found by its content as knockd does, not by a line number
 * that an edit of the file may have moved. No such line (edited, already used): refused, so the caller
 * keeps the door shut rather than open it with a sequence that stays valid in the file.
 */
export async function markStepsUsed(path: string, steps: readonly KnockStep[]): Promise<number> {
  let text: string;
  try {
    text = (await readTrustedFile(path, 'one-time', MAX_ONE_TIME_BYTES)).bytes.toString('utf8');
  } catch (error) {
    if (error instanceof NfknockError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${path} (${code})`, { cause: error, location: { file: path } });
  }
  const match = parseOneTimeSequences(text, path).lines.find((line) => sameSteps(line.steps, steps));
  if (!match) {
    throw new NfknockError(ErrorCodes.CONFIG_INVALID, `no unused line of the one-time sequence file holds the sequence just knocked (was the file edited?)`, {
      location: { file: path },
    });
  }
  await markSequenceUsed(path, match.line, text.split('\n')[match.line - 1]);
  return match.line;
}

function sameSteps(a: readonly KnockStep[], b: readonly KnockStep[]): boolean {
  return a.length === b.length && a.every((step, i) => step.port === b[i]?.port && step.protocol === b[i]?.protocol);
}

async function markNow(path: string, lineNumber: number, expectedLine: string | undefined): Promise<void> {
  // Read and replace through the directory checked once: no symlink is followed, none swapped in.
  await inParentOf(path, async (dir, name) => {
    let read;
    try {
      read = await dir.readChild(name, 'one-time', MAX_ONE_TIME_BYTES);
    } catch (error) {
      if (error instanceof NfknockError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${path} (${code})`, { cause: error, location: { file: path, line: lineNumber } });
    }
    if (!read) throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${path} (ENOENT)`, { location: { file: path, line: lineNumber } });
    const result = commentOutLine(read.bytes.toString('utf8'), lineNumber);
    if (!result) {
      throw new NfknockError(ErrorCodes.CONFIG_INVALID, `the one-time sequence file has no line ${lineNumber}; was it edited?`, {
        location: { file: path, line: lineNumber },
      });
    }
    if (!result.changed) return;
    if (expectedLine !== undefined && result.line.trim() !== expectedLine.trim()) {
      throw new NfknockError(ErrorCodes.CONFIG_INVALID, 'the one-time sequence file changed since it was read; the used line was not found where expected', {
        location: { file: path, line: lineNumber, text: result.line },
      });
    }
    // Only a file that is not the daemon's own needs its owner given back: under the unit the syscall
    // filter refuses fchown (@privileged), and a root daemon's new file is already root's.
    const owner = process.geteuid?.() === 0 && (read.stats.uid !== process.geteuid() || read.stats.gid !== process.getegid?.()) ? { uid: read.stats.uid, gid: read.stats.gid } : undefined;
    await dir.writeAtomic(name, result.text, read.stats.mode & 0o7777, owner);
  });
}

/** The unused lines of `door`'s One_Time_Sequences file, for the sequence book. */
export async function readOneTimeLines(door: Door): Promise<OneTimeLine[]> {
  const file = door.oneTimeFile as string;
  return parseOneTimeSequences((await readTrustedFile(file, 'one-time', MAX_ONE_TIME_BYTES)).bytes.toString('utf8'), file).lines;
}

/** Burns the line of a sequence that opened `door`. */
export async function markOneTimeLineUsed(door: Door, line: OneTimeLine): Promise<void> {
  await markStepsUsed(door.oneTimeFile as string, line.steps);
}

/** The ports of every unused one-time sequence, by door: the kernel must mark them before they are used. */
export async function oneTimeSteps(config: Config): Promise<Map<string, KnockStep[]>> {
  const result = new Map<string, KnockStep[]>();
  for (const door of config.doors) {
    if (door.oneTimeFile === undefined) continue;
    result.set(door.name, (await readOneTimeLines(door)).flatMap((line) => line.steps));
  }
  return result;
}
