/**
 * One_Time_Sequences: after a sequence is used, its line is commented out so it never opens again.
 *
 * knockd 0.8 does this by overwriting the first byte of the line with '#' in place (verified: the line
 * `7000,8000,9000` becomes `#000,8000,9000`). nfknock inserts '#' before the line instead, keeping the
 * used sequence readable for audits; both readers skip the line the same way. The file is replaced
 * atomically with its mode and owner kept, so a crash never leaves a half-written sequence file.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { ErrorCodes, NfknockError } from '../core/errors.js';
import { writeFileAtomic } from './atomic-file.js';

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

async function markNow(path: string, lineNumber: number, expectedLine: string | undefined): Promise<void> {
  let text: string;
  let info;
  let target: string;
  try {
    // Replace the file a symlink points to, not the symlink.
    target = await realpath(path);
    text = await readFile(target, 'utf8');
    info = await stat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new NfknockError(ErrorCodes.CONFIG_READ, `cannot read the one-time sequence file ${path} (${code})`, {
      cause: error,
      location: { file: path, line: lineNumber },
    });
  }
  const result = commentOutLine(text, lineNumber);
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
  const owner = process.geteuid?.() === 0 ? { uid: info.uid, gid: info.gid } : undefined;
  await writeFileAtomic(target, result.text, info.mode & 0o7777, owner ? { owner } : {});
}
