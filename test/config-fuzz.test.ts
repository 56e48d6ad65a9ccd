import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig } from '../src/config/parse.js';
import { ConfigError } from '../src/config/problems.js';
import { resolveStartCommand } from '../src/config/commands.js';
import { ErrorCodes } from '../src/core/errors.js';
import type { Config } from '../src/core/types.js';
import { configModel, render } from './helpers/config-model.js';

const FILE = '/etc/knockd.conf';
/** Runs per property; together over 100 000 generated or mutated configs. */
const ROUND_TRIPS = 20_000;
/** Each run renders one model and checks this many independently mutated copies of it. */
const MUTANTS_PER_MODEL = 8;
const MUTATED_MODELS = 6_000;
const RANDOM_TEXTS = 35_000;
// 20 000 + 6 000 x 8 + 35 000 = 103 000 cases; about 15 s on the 2-core build machine.

test('random valid configs round-trip to the doors and options of their model', () => {
  fc.assert(
    fc.property(configModel, (model) => {
      const { text, expected } = render(model, FILE);
      assert.deepEqual(parseConfig(text, FILE), expected);
    }),
    { numRuns: ROUND_TRIPS },
  );
});

/** What a parse must look like whatever the input: a Config that is safe to run, or a line-numbered refusal. */
function assertSafeOutcome(text: string): void {
  const lineCount = text.split('\n').length;
  let config: Config;
  try {
    config = parseConfig(text, FILE);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    assert.ok(error.code === ErrorCodes.CONFIG_SYNTAX || error.code === ErrorCodes.CONFIG_INVALID, error.code);
    assert.ok(error.problems.length > 0);
    assert.deepEqual(error.location, { file: FILE, line: error.problems[0]?.line, text: error.problems[0]?.text });
    for (const problem of error.problems) {
      assert.equal(problem.file, FILE);
      assert.ok(Number.isInteger(problem.line) && problem.line >= 1 && problem.line <= lineCount, `line ${problem.line} of ${lineCount}`);
    }
    return;
  }
  for (const door of config.doors) {
    // Whatever was accepted is a door that can only open on a real, complete knock.
    const sources = [door.steps.length > 0, door.oneTimeFile !== undefined, door.timeSequence !== undefined];
    assert.equal(sources.filter(Boolean).length, 1, `door ${door.name} has exactly one kind of sequence`);
    for (const step of door.steps) assert.ok(Number.isInteger(step.port) && step.port >= 1 && step.port <= 65535);
    assert.ok(door.seqTimeoutMs >= 1000 && door.cmdTimeoutMs >= 0);
    assert.ok(resolveStartCommand(door, 4) !== undefined || resolveStartCommand(door, 6) !== undefined);
    assert.ok(door.line >= 1 && door.line <= lineCount);
    for (const line of Object.values(door.keyLines)) assert.ok(line > door.line && line <= lineCount);
    if (door.timeSequence) assert.ok(door.timeSequence.secret !== undefined || door.timeSequence.secretFile !== undefined);
  }
}

const JUNK = ['\n', '[', ']', '=', '#', ',', ':', '!', '\u0000', ' ', '\r', '@', '-', '0', '9', 'x', 'é', '\uFEFF'];
const junkLines = fc.constantFrom(
  '[options]',
  '[dup]',
  '[',
  ']',
  '=',
  'UseSyslog',
  'sequence = 1,2,3',
  'sequence = 0',
  'command = rm -rf /',
  'start_command_6 =',
  'tcpflags = syn,!syn',
  'seq_timeout = -1',
  'one_time_sequences = /x',
  'sequence_secret = AAAAAAAAAAAAAAAAAAAAAAAAAA',
  'sequence_ports = 1-3',
  'Source = file',
  'x',
  '',
  '#',
);

type Mutation =
  | { kind: 'flip'; at: number; junk: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; line: string }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), junk: fc.oneof(fc.constantFrom(...JUNK), fc.string({ unit: 'binary', maxLength: 3 })) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), line: fc.oneof(junkLines, fc.string({ maxLength: 20 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
);

function mutate(text: string, m: Mutation): string {
  if (m.kind === 'flip') {
    const at = text.length === 0 ? 0 : m.at % text.length;
    return text.slice(0, at) + m.junk + text.slice(at + 1);
  }
  if (m.kind === 'truncate') return text.slice(0, text.length === 0 ? 0 : m.at % text.length);
  const lines = text.split('\n');
  const at = m.at % lines.length;
  if (m.kind === 'insert') lines.splice(at, 0, m.line);
  else if (m.kind === 'delete') lines.splice(at, 1);
  else lines.splice(at, 0, lines[at] ?? '');
  return lines.join('\n');
}

test('mutated configs (byte flips, truncation, junk, deleted or repeated lines) parse safely or are refused at a line', () => {
  fc.assert(
    fc.property(
      configModel,
      fc.array(fc.array(mutation, { minLength: 1, maxLength: 4 }), { minLength: MUTANTS_PER_MODEL, maxLength: MUTANTS_PER_MODEL }),
      (model, mutants) => {
        const text = render(model, FILE).text;
        for (const mutations of mutants) assertSafeOutcome(mutations.reduce(mutate, text));
      },
    ),
    { numRuns: MUTATED_MODELS },
  );
});

test('arbitrary text parses safely or is refused at a line', () => {
  const line = fc.oneof(junkLines, fc.string({ unit: fc.constantFrom(...JUNK, 'a', 's', 'e', 'q', 'u', 'n', 'c', '1'), maxLength: 12 }));
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(line, { maxLength: 20 }).map((ls) => ls.join('\n'))), assertSafeOutcome),
    { numRuns: RANDOM_TEXTS },
  );
});
