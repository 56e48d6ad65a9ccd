import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { isNfknockError } from '../src/core/errors.js';
import type { KnockStep } from '../src/core/types.js';
import { registerKnockCommand, type KnockCommandIo } from '../src/client/command.js';
import type { SendKnocksOptions } from '../src/client/knock.js';
import { deriveSequence, timeSequenceDefaults } from '../src/timeseq/derive.js';
import { decodeBase32 } from '../src/timeseq/base32.js';

const SECRET_TEXT = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function harness(now = 1_700_000_000_000) {
  const sent: { host: string; steps: KnockStep[]; options: SendKnocksOptions }[] = [];
  const out: string[] = [];
  const warnings: string[] = [];
  const io: KnockCommandIo = {
    now: () => now,
    readFile: async (path) => {
      if (path === '/secrets/ssh') return `${SECRET_TEXT}\n`;
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    },
    env: { NFK_SECRET: SECRET_TEXT.toLowerCase(), NFK_BAD: 'not base32!' },
    out: (line) => out.push(line),
    warn: (line) => warnings.push(line),
    loadHost: async () => undefined,
    send: async (host, steps, options) => {
      sent.push({ host, steps, options });
      options.verbose?.('verbose works');
      return [];
    },
  };
  const program = new Command('nfknock').exitOverride();
  registerKnockCommand(program, io);
  const run = (...args: string[]) => program.parseAsync(['knock', ...args], { from: 'user' });
  return { run, sent, out, warnings };
}

test('knock flags reach sendKnocks as knock(1) means them', async () => {
  const h = harness();
  await h.run('-v', '-4', '-d', '50', 'gw.example.org', '1', '2:udp');
  assert.equal(h.sent.length, 1);
  assert.equal(h.sent[0]?.host, 'gw.example.org');
  assert.deepEqual(h.sent[0]?.steps, [
    { port: 1, protocol: 'tcp' },
    { port: 2, protocol: 'udp' },
  ]);
  assert.equal(h.sent[0]?.options.delayMs, 50);
  assert.equal(h.sent[0]?.options.family, 4);
  assert.deepEqual(h.out, ['verbose works']);
});

test('-u forces UDP with a warning for explicit :tcp; -6 picks IPv6; no -v means silence', async () => {
  const h = harness();
  await h.run('-u', '-6', 'h', '1:tcp', '2');
  assert.deepEqual(h.sent[0]?.steps.map((s) => s.protocol), ['udp', 'udp']);
  assert.equal(h.sent[0]?.options.family, 6);
  assert.equal(h.warnings.length, 1);
  assert.deepEqual(h.out, []);
});

test('time-based: the current step of the door is derived from the secret file or variable', async () => {
  const now = 1_700_000_000_000;
  const expected = deriveSequence({ ...timeSequenceDefaults, secret: decodeBase32(SECRET_TEXT) }, 'ssh', Math.floor(now / 30_000));
  const fromFile = harness(now);
  await fromFile.run('--secret', '/secrets/ssh', '--door', 'ssh', 'h');
  assert.deepEqual(fromFile.sent[0]?.steps, expected);
  const fromEnv = harness(now);
  await fromEnv.run('--secret-env', 'NFK_SECRET', '--door', 'ssh', 'h');
  assert.deepEqual(fromEnv.sent[0]?.steps, expected);
  const custom = harness(now);
  await custom.run('--secret-env', 'NFK_SECRET', '--door', 'ssh', '--period', '60', '--length', '6', '--ports', '1000-1999', '--protocols', 'mixed', 'h');
  const steps = custom.sent[0]?.steps ?? [];
  assert.deepEqual(
    steps,
    deriveSequence(
      { ...timeSequenceDefaults, secret: decodeBase32(SECRET_TEXT), periodSeconds: 60, length: 6, portMin: 1000, portMax: 1999, protocols: 'mixed' },
      'ssh',
      Math.floor(now / 60_000),
    ),
  );
});

test('conflicting or incomplete arguments are usage errors and nothing is sent', async () => {
  const cases: string[][] = [
    ['h'],
    ['h', '70000'],
    ['h', '7000:sctp'],
    ['-d', 'abc', 'h', '1'],
    ['--all-families', '-4', 'h', '1'],
    ['--door', 'ssh', 'h', '1'],
    ['--secret', '/secrets/ssh', 'h'],
    ['--secret', '/secrets/ssh', '--door', 'ssh', 'h', '1'],
    ['--secret', '/secrets/ssh', '--secret-env', 'NFK_SECRET', '--door', 'ssh', 'h'],
    ['--secret', '/secrets/missing', '--door', 'ssh', 'h'],
    ['--secret-env', 'NFK_UNSET', '--door', 'ssh', 'h'],
    ['--secret-env', 'NFK_BAD', '--door', 'ssh', 'h'],
    ['--secret-env', 'NFK_SECRET', '--door', 'ssh', '--period', '2', 'h'],
    ['--secret-env', 'NFK_SECRET', '--door', 'ssh', '--ports', '9-1', 'h'],
    ['--secret-env', 'NFK_SECRET', '--door', 'ssh', '--protocols', 'sctp', 'h'],
    ['--secret-env', 'NFK_SECRET', '--door', 'ssh', '-u', 'h'],
  ];
  for (const args of cases) {
    const h = harness();
    await assert.rejects(h.run(...args), (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE', args.join(' '));
    assert.equal(h.sent.length, 0, args.join(' '));
  }
});
