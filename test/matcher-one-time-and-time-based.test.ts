import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matcher, type MatcherAction } from '../src/matcher/matcher.js';
import { SequenceBook, type TimeSequenceDeriver } from '../src/matcher/sequences.js';
import type { Door } from '../src/core/types.js';
import { knock, makeDoor, steps } from './helpers/knock-fixtures.js';

function run(doors: Door[], book: SequenceBook) {
  const actions: MatcherAction[] = [];
  const matcher = new Matcher(doors, { maxAttempts: 100, onAction: (a) => actions.push(a), sequences: book });
  const send = (source: string, sequence: string, at: number) => sequence.split(',').forEach((s, i) => matcher.feed(knock(source, s, at + i)));
  return { matcher, actions, send };
}

test('a one-time door opens with the first unused line, once, then with the next', () => {
  const door = makeDoor({ name: 'smtp', steps: [], oneTimeFile: '/etc/knockd/smtp' });
  const book = new SequenceBook();
  book.setOneTimeLines('smtp', [
    { line: 2, steps: steps('2000,3000,4000') },
    { line: 3, steps: steps('5000,6000,7000') },
  ]);
  const { actions, send } = run([door], book);
  send('10.0.0.2', '2000,3000,4000', 0);
  send('10.0.0.2', '2000,3000,4000', 100);
  send('10.0.0.2', '5000,6000,7000', 200);
  send('10.0.0.2', '5000,6000,7000', 300);
  const opens = actions.filter((a) => a.kind === 'open');
  assert.deepEqual(opens.map((a) => a.kind === 'open' && a.sequence.line), [2, 3]);
  assert.equal(book.oneTimeRemaining('smtp'), 0);
});

test('two sources racing on one one-time line: only the first to finish opens', () => {
  const door = makeDoor({ name: 'smtp', steps: [], oneTimeFile: '/f' });
  const book = new SequenceBook();
  book.setOneTimeLines('smtp', [{ line: 1, steps: steps('2000,3000') }]);
  const { matcher, actions } = run([door], book);
  matcher.feed(knock('10.0.0.2', '2000', 0));
  matcher.feed(knock('10.0.0.3', '2000', 1));
  matcher.feed(knock('10.0.0.2', '3000', 2));
  matcher.feed(knock('10.0.0.3', '3000', 3));
  assert.deepEqual(
    actions.filter((a) => a.kind === 'open' || a.kind === 'replay').map((a) => `${a.kind}:${a.source}`),
    ['open:10.0.0.2', 'replay:10.0.0.3'],
  );
});

test('a one-time door with no lines left opens nothing', () => {
  const door = makeDoor({ name: 'smtp', steps: [], oneTimeFile: '/f' });
  const { actions, send } = run([door], new SequenceBook());
  send('10.0.0.2', '2000,3000,4000', 0);
  assert.deepEqual(actions, []);
});

/** Step = floor(at / 1000); sequence of step t is ports 100t+1, 100t+2. */
const fakeDeriver: TimeSequenceDeriver = {
  stepsAt: (_door, at) => [Math.floor(at / 1000), Math.floor(at / 1000) - 1],
  derive: (_door, step) => steps(`${100 * step + 1},${100 * step + 2}`),
};
const timeDoor = makeDoor({
  name: 'rotating',
  steps: [],
  timeSequence: { secret: new Uint8Array(20), length: 2, portMin: 1, portMax: 65535, periodSeconds: 1, protocols: 'tcp' },
});

test('a time-based door accepts the current and the previous step only', () => {
  const book = new SequenceBook(fakeDeriver);
  const { actions, send } = run([timeDoor], book);
  send('10.0.0.2', '501,502', 5000); // step 5 at step 5
  send('10.0.0.2', '501,502', 6100); // step 5 at step 6 (skew window), but already used: replay
  send('10.0.0.2', '601,602', 6200); // step 6 at step 6
  send('10.0.0.2', '601,602', 8000); // step 6 at step 8: too old
  assert.deepEqual(
    actions.filter((a) => a.kind === 'open' || a.kind === 'replay').map((a) => `${a.kind}:${'sequence' in a ? a.sequence.id : ''}`),
    ['open:step:5', 'replay:step:5', 'open:step:6'],
  );
});

test('a replay from another address within the same step is refused', () => {
  const book = new SequenceBook(fakeDeriver);
  const { actions, send } = run([timeDoor], book);
  send('10.0.0.2', '701,702', 7000);
  send('10.0.0.66', '701,702', 7500);
  assert.deepEqual(actions.filter((a) => a.kind === 'open' || a.kind === 'replay').map((a) => `${a.kind}:${a.source}`), ['open:10.0.0.2', 'replay:10.0.0.66']);
});

test('used steps restored after a restart stay used', () => {
  const book = new SequenceBook(fakeDeriver);
  book.markStepUsed('rotating', 7);
  const { actions, send } = run([timeDoor], book);
  send('10.0.0.2', '701,702', 7100);
  assert.equal(actions.at(-1)?.kind, 'replay');
});

test('reload keeps attempts of unchanged doors and drops changed ones', () => {
  const keep = makeDoor({ name: 'keep', sequence: '7000,8000,9000' });
  const change = makeDoor({ name: 'change', sequence: '7000,8001,9000' });
  const actions: MatcherAction[] = [];
  const matcher = new Matcher([keep, change], { maxAttempts: 100, onAction: (a) => actions.push(a) });
  matcher.feed(knock('10.0.0.2', '7000', 0));
  // Same first knock, flags, Target and timeout: one attempt shared by both doors.
  assert.equal(matcher.attemptCount, 1);
  assert.equal(matcher.doorAttemptCount, 2);
  const changed = makeDoor({ name: 'change', sequence: '7000,8002,9000' });
  const keepReloaded = makeDoor({ name: 'keep', sequence: '7000,8000,9000', startCommand: 'echo other' });
  matcher.replaceDoors([changed, keepReloaded]);
  assert.equal(matcher.attemptCount, 1);
  assert.equal(matcher.doorAttemptCount, 1);
  matcher.feed(knock('10.0.0.2', '8000', 1));
  matcher.feed(knock('10.0.0.2', '9000', 2));
  const open = actions.at(-1);
  assert.equal(open?.kind, 'open');
  assert.equal(open?.door, keepReloaded);
});
