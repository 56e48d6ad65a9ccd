import { NfknockError, ErrorCodes } from '../core/errors.js';

type ConfigErrorCode = typeof ErrorCodes.CONFIG_SYNTAX | typeof ErrorCodes.CONFIG_INVALID;

/** One thing wrong with a config file, at a line of it; `text` is quoted back to the user. */
export interface ConfigProblem {
  code: ConfigErrorCode;
  message: string;
  file: string;
  line: number;
  text: string;
}

/** How many problems the message spells out; the rest are counted (all of them stay in `problems`). */
const LISTED_PROBLEMS = 20;

export function describeProblem(problem: ConfigProblem): string {
  return `${problem.file}:${problem.line}: ${problem.message}: ${JSON.stringify(problem.text)}`;
}

/**
 * Every problem found in one file, reported at once so that a user fixes a config in one pass.
 * It is an NfknockError (code and location of the first problem), so callers need not know it.
 */
export class ConfigError extends NfknockError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    if (!first) throw new NfknockError(ErrorCodes.INTERNAL, 'ConfigError needs at least one problem');
    super(first.code, ConfigError.messageFor(problems), {
      location: { file: first.file, line: first.line, text: first.text },
    });
    this.problems = problems;
  }

  /** With several problems the message already lists each with its place; quote nothing twice. */
  override describe(): string {
    return this.problems.length === 1 ? super.describe() : this.message;
  }

  private static messageFor(problems: readonly ConfigProblem[]): string {
    const first = problems[0] as ConfigProblem;
    if (problems.length === 1) return first.message;
    const listed = problems.slice(0, LISTED_PROBLEMS).map((p) => `  ${describeProblem(p)}`);
    const more = problems.length > LISTED_PROBLEMS ? [`  ... and ${problems.length - LISTED_PROBLEMS} more`] : [];
    return [`${problems.length} problems in ${first.file}:`, ...listed, ...more].join('\n');
  }
}

export function throwIfAny(problems: readonly ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigError(problems);
}
