import type { KnockStep } from '../core/types.js';
import { ErrorCodes } from '../core/errors.js';
import { throwIfAny, type ConfigProblem } from './problems.js';
import { parseSequence } from './sequence.js';
import { cTrim, splitLines } from './text.js';

export interface OneTimeSequences {
  /** Unused sequences, in file order; `line` is 1-based. */
  lines: { line: number; steps: KnockStep[] }[];
}

/**
 * knockd's one-time sequences file (get_next_one_time_sequence): one sequence per line in the
 * Sequence syntax; blank lines and lines starting with `#` after trimming are skipped (knockd
 * marks a used sequence by overwriting the line's first byte with `#`). knockd silently skips
 * lines it cannot parse; here they are errors, so a typo cannot hide a sequence the user expects.
 */
export function parseOneTimeSequences(text: string, file: string): OneTimeSequences {
  const problems: ConfigProblem[] = [];
  const lines: OneTimeSequences['lines'] = [];
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = cTrim(raw);
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const parsed = parseSequence(trimmed);
    if (parsed.ok) lines.push({ line, steps: parsed.steps });
    else problems.push({ code: ErrorCodes.CONFIG_INVALID, message: `one-time sequence: ${parsed.message}`, file, line, text: parsed.text });
  });
  throwIfAny(problems);
  return { lines };
}
