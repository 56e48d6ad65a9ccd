import assert from 'node:assert/strict';
import { ConfigError, type ConfigProblem } from '../../src/config/problems.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/core/types.js';

export const FILE = '/etc/knockd.conf';

/** Lines joined with LF, so tests read like the file they stand for. */
export function conf(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

export function parse(...lines: string[]): Config {
  return parseConfig(conf(...lines), FILE);
}

/** Parses and returns the problems it must raise (fails the test when parsing succeeds). */
export function problemsOf(text: string, file = FILE): readonly ConfigProblem[] {
  try {
    parseConfig(text, file);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail(`expected the config to be refused:\n${text}`);
}

export interface Expected {
  code: ConfigProblem['code'];
  line: number;
  text?: string;
  message?: RegExp;
}

/** The config must be refused with exactly one problem, matching `expected`. */
export function assertRefused(text: string, expected: Expected): void {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, `expected one problem, got:\n${problems.map((p) => `${p.line}: ${p.message}`).join('\n')}`);
  const problem = problems[0] as ConfigProblem;
  assert.equal(problem.code, expected.code, problem.message);
  assert.equal(problem.line, expected.line, problem.message);
  assert.equal(problem.file, FILE);
  if (expected.text !== undefined) assert.equal(problem.text, expected.text);
  if (expected.message) assert.match(problem.message, expected.message);
}
