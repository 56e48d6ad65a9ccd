import type { KnockStep } from '../core/types.js';
import { ErrorCodes } from '../core/errors.js';
import { throwIfAny, type ConfigProblem } from './problems.js';
import { parseSequence } from './sequence.js';
import { cTrim, forEachLine } from './text.js';

export interface OneTimeSequences {
  /** Unused sequences, in file order; `line` is 1-based. */
  lines: { line: number; steps: KnockStep[] }[];
}

/** An unused line and where its bytes are in the file: what burning it in place needs. */
export interface PlacedOneTimeLine {
  line: number;
  steps: KnockStep[];
  /** Offset of the line's first byte (after a byte order mark on line 1). */
  offset: number;
  /** Its length in bytes, without the newline. */
  length: number;
}

/**
 * knockd's one-time sequences file (get_next_one_time_sequence): one sequence per line in the
 * Sequence syntax; blank lines and lines starting with `#` after trimming are skipped (knockd
 * marks a used sequence by overwriting the line's first byte with `#`, and so does nfknockd). knockd
 * silently skips lines it cannot parse; here they are errors, so a typo cannot hide a sequence the
 * user expects.
 */
export function parseOneTimeSequences(text: string, file: string): OneTimeSequences {
  const problems: ConfigProblem[] = [];
  const lines: OneTimeSequences['lines'] = [];
  forEachLine(text, (raw, line) => {
    const steps = parseOneTimeLine(raw, line, file, problems);
    if (steps) lines.push({ line, steps });
  });
  throwIfAny(problems);
  return { lines };
}

/**
 * Throws what `parseOneTimeSequences` throws, keeping nothing: the config loader only checks the
 * file, and 100 000 lines' steps kept alive meanwhile would be copied by every young-generation GC.
 */
export function checkOneTimeSequences(text: string, file: string): void {
  const problems: ConfigProblem[] = [];
  forEachLine(text, (raw, line) => void parseOneTimeLine(raw, line, file, problems));
  throwIfAny(problems);
}

const NEWLINE = 0x0a;
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

/**
 * The same reading as `parseOneTimeSequences(bytes.toString('utf8'))`, on the file's bytes, so that
 * each unused line comes with its byte offset. A newline byte is never inside a UTF-8 character, so
 * decoding line by line reads every line as decoding the whole file does.
 */
export function parseOneTimeFile(bytes: Uint8Array, file: string): { lines: PlacedOneTimeLine[] } {
  const problems: ConfigProblem[] = [];
  const lines: PlacedOneTimeLine[] = [];
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = BYTE_ORDER_MARK.every((byte, i) => buffer[i] === byte) ? BYTE_ORDER_MARK.length : 0;
  for (let line = 1; ; line++) {
    const newline = buffer.indexOf(NEWLINE, start);
    const end = newline === -1 ? buffer.length : newline;
    const steps = parseOneTimeLine(buffer.toString('utf8', start, end), line, file, problems);
    if (steps) lines.push({ line, steps, offset: start, length: end - start });
    if (newline === -1) break;
    start = newline + 1;
  }
  throwIfAny(problems);
  return { lines };
}

function parseOneTimeLine(raw: string, line: number, file: string, problems: ConfigProblem[]): KnockStep[] | undefined {
  const trimmed = cTrim(raw);
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const parsed = parseSequence(trimmed);
  if (parsed.ok) return parsed.steps;
  problems.push({ code: ErrorCodes.CONFIG_INVALID, message: `one-time sequence: ${parsed.message}`, file, line, text: parsed.text });
  return undefined;
}
