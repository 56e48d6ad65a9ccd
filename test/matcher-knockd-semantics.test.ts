import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matcher, type MatcherAction } from '../src/matcher/matcher.js';
import { TcpFlag } from '../src/core/types.js';
import { knock, makeDoor } from './helpers/knock-fixtures.js';

function harness(doors = [makeDoor()], maxAttempts = 1000) {
  const actions: MatcherAction[] = [];
  const matcher = new Matcher(doors, { maxAttempts, onAction: (a) => actions.push(a) });
  // An action of a shared first stage stands for each of its doors: one entry per door.
  const summary = () => actions.flatMap((a) => ('doors' in a ? a.doors : [a.door]).map((door) => `${a.kind}:${a.source}:${door.name}${'stage' in a ? `:${a.stage}` : ''}`));
  return { matcher, actions, summary };
}

test('the right sequence in time opens the door for that source', () => {
  const { matcher, summary, actions } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 100));
  matcher.feed(knock('10.0.0.2', '9000:udp', 200));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'stage:10.0.0.2:door:2', 'open:10.0.0.2:door']);
  const open = actions.at(-1);
  assert.equal(open?.kind, 'open');
  assert.equal(open?.at, 200);
  assert.equal(matcher.attemptCount, 0);
});

test('wrong order opens nothing', () => {
  const { matcher, actions } = harness();
  for (const [i, step] of ['8000:tcp', '7000:udp', '9000:udp'].entries()) matcher.feed(knock('10.0.0.2', step, i * 10));
  assert.equal(actions.filter((a) => a.kind === 'open').length, 0);
});

test('wrong protocol breaks the sequence', () => {
  const { matcher, summary } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:udp', 10));
  matcher.feed(knock('10.0.0.2', '9000:udp', 20));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'broken:10.0.0.2:door:1']);
});

test('too slow: seq_timeout runs from the first knock', () => {
  const { matcher, summary } = harness([makeDoor({ seqTimeoutMs: 1000 })]);
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 600));
  matcher.feed(knock('10.0.0.2', '9000:udp', 1001));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'stage:10.0.0.2:door:2', 'expire:10.0.0.2:door:2']);
});

test('exactly at seq_timeout still counts', () => {
  const { matcher, actions } = harness([makeDoor({ seqTimeoutMs: 1000 })]);
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 500));
  matcher.feed(knock('10.0.0.2', '9000:udp', 1000));
  assert.equal(actions.at(-1)?.kind, 'open');
});

test('a sequence split across two source addresses opens nothing', () => {
  const { matcher, actions } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.3', '8000:tcp', 10));
  matcher.feed(knock('10.0.0.2', '9000:udp', 20));
  matcher.feed(knock('10.0.0.3', '9000:udp', 30));
  assert.equal(actions.filter((a) => a.kind === 'open').length, 0);
});

test('ACK-only knocks on a tcpflags=syn door are ignored, neither advancing nor breaking', () => {
  const door = makeDoor({ sequence: '7000,8000,9000', tcpFlags: { required: TcpFlag.SYN, forbidden: 0 } });
  const { matcher, actions, summary } = harness([door]);
  for (const [i, port] of ['7000', '8000', '9000'].entries()) matcher.feed(knock('10.0.0.2', port, i, TcpFlag.ACK));
  assert.deepEqual(actions, []);
  matcher.feed(knock('10.0.0.2', '7000', 10));
  matcher.feed(knock('10.0.0.2', '8000', 11, TcpFlag.ACK | TcpFlag.PSH));
  matcher.feed(knock('10.0.0.2', '8000', 12));
  matcher.feed(knock('10.0.0.2', '9000', 13));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'stage:10.0.0.2:door:2', 'open:10.0.0.2:door']);
});

test('forbidden flags (!ack) exclude SYN-ACK knocks', () => {
  const door = makeDoor({ sequence: '7000,8000', tcpFlags: { required: TcpFlag.SYN, forbidden: TcpFlag.ACK } });
  const { matcher, actions } = harness([door]);
  matcher.feed(knock('10.0.0.2', '7000', 0, TcpFlag.SYN | TcpFlag.ACK));
  matcher.feed(knock('10.0.0.2', '8000', 1, TcpFlag.SYN | TcpFlag.ACK));
  assert.deepEqual(actions, []);
});

test('tcpflags do not apply to UDP knocks', () => {
  const door = makeDoor({ sequence: '7000:udp,8000:udp', tcpFlags: { required: TcpFlag.SYN, forbidden: 0 } });
  const { matcher, actions } = harness([door]);
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:udp', 1));
  assert.equal(actions.at(-1)?.kind, 'open');
});

test('a retransmitted SYN of the knock just accepted does not break the sequence', () => {
  const { matcher, summary } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 10));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 1010));
  matcher.feed(knock('10.0.0.2', '9000:udp', 1020));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'stage:10.0.0.2:door:2', 'open:10.0.0.2:door']);
});

test('a repeated port that is also the next step advances', () => {
  const { matcher, actions } = harness([makeDoor({ sequence: '7000,7000,8000' })]);
  for (const [i, port] of ['7000', '7000', '8000'].entries()) matcher.feed(knock('10.0.0.2', port, i));
  assert.equal(actions.at(-1)?.kind, 'open');
});

test('the packet that breaks a sequence counts as a new first knock', () => {
  const { matcher, summary } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '7000:tcp', 5)); // wrong protocol: broken, not a first knock either
  matcher.feed(knock('10.0.0.2', '7000:udp', 10));
  matcher.feed(knock('10.0.0.2', '9000:udp', 11)); // broken at stage 1
  matcher.feed(knock('10.0.0.2', '7000:udp', 12)); // a fresh start...
  matcher.feed(knock('10.0.0.2', '8000:tcp', 13));
  matcher.feed(knock('10.0.0.2', '9000:udp', 14));
  assert.deepEqual(summary(), [
    'stage:10.0.0.2:door:1',
    'broken:10.0.0.2:door:1',
    'stage:10.0.0.2:door:1',
    'broken:10.0.0.2:door:1',
    'stage:10.0.0.2:door:1',
    'stage:10.0.0.2:door:2',
    'open:10.0.0.2:door',
  ]);
});

test('a broken attempt restarts when the breaking packet is the first knock', () => {
  const { matcher, summary } = harness();
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 1));
  matcher.feed(knock('10.0.0.2', '7000:udp', 2));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 3));
  matcher.feed(knock('10.0.0.2', '9000:udp', 4));
  assert.deepEqual(summary(), [
    'stage:10.0.0.2:door:1',
    'stage:10.0.0.2:door:2',
    'broken:10.0.0.2:door:2',
    'stage:10.0.0.2:door:1',
    'stage:10.0.0.2:door:2',
    'open:10.0.0.2:door',
  ]);
});

test('stale attempts expire on tick, without another packet', () => {
  const { matcher, summary } = harness([makeDoor({ seqTimeoutMs: 1000 })]);
  matcher.feed(knock('10.0.0.2', '7000:udp', 0));
  matcher.tick(999);
  assert.equal(matcher.attemptCount, 1);
  matcher.tick(1001);
  assert.equal(matcher.attemptCount, 0);
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'expire:10.0.0.2:door:1']);
});

test('two doors sharing a first knock progress independently', () => {
  const a = makeDoor({ name: 'a', sequence: '7000,8000' });
  const b = makeDoor({ name: 'b', sequence: '7000,9000' });
  const { matcher, summary } = harness([a, b]);
  matcher.feed(knock('10.0.0.2', '7000', 0));
  matcher.feed(knock('10.0.0.2', '9000', 1));
  assert.deepEqual(summary(), ['stage:10.0.0.2:a:1', 'stage:10.0.0.2:b:1', 'broken:10.0.0.2:a:1', 'open:10.0.0.2:b']);
});

test('a one-knock door opens on its single knock', () => {
  const { matcher, summary } = harness([makeDoor({ sequence: '7000' })]);
  matcher.feed(knock('10.0.0.2', '7000', 0));
  assert.deepEqual(summary(), ['open:10.0.0.2:door']);
});

test('IPv6 sources are matched like IPv4', () => {
  const { matcher, actions } = harness();
  matcher.feed(knock('fd00::2', '7000:udp', 0));
  matcher.feed(knock('fd00::2', '8000:tcp', 1));
  matcher.feed(knock('fd00::2', '9000:udp', 2));
  const open = actions.at(-1);
  assert.equal(open?.kind, 'open');
  assert.equal(open?.family, 6);
});

test('a door with Target only counts knocks sent to that address, and others do not break it', () => {
  const { matcher, summary } = harness([makeDoor({ target: '10.0.0.1' })]);
  const toOther = (step: string, at: number) => ({ ...knock('10.0.0.2', step, at), destination: '10.0.0.99' });
  matcher.feed(toOther('7000:udp', 0));
  matcher.feed(knock('10.0.0.2', '7000:udp', 1));
  matcher.feed(toOther('9000:udp', 2));
  matcher.feed(knock('10.0.0.2', '8000:tcp', 3));
  matcher.feed(knock('10.0.0.2', '9000:udp', 4));
  assert.deepEqual(summary(), ['stage:10.0.0.2:door:1', 'stage:10.0.0.2:door:2', 'open:10.0.0.2:door']);
});
