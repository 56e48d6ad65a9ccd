import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import fc from 'fast-check';
import { isNfknockError } from '../src/core/errors.js';
import type { KnockStep } from '../src/core/types.js';
import type { ClientHost } from '../src/client/client-config.js';
import { parseServicePort, registerConnectCommand, type ConnectIo } from '../src/client/connect-command.js';
import type { ResolvedHost, SendKnocksOptions } from '../src/client/knock.js';
import { formatKnockArguments, registerSequenceCommand } from '../src/client/sequence-command.js';
import { parseKnockTargets } from '../src/client/targets.js';
import { deriveSequence } from '../src/timeseq/derive.js';
import { decodeBase32 } from '../src/timeseq/base32.js';

const SECRET_TEXT = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NOW = 1_700_000_011_000; // 31 s into a 60 s step
const usage = (e: unknown) => isNfknockError(e) && e.code === 'NFK_USAGE';

const aliases = new Map<string, ClientHost>([
  ['office', { name: 'office', address: 'gw.example.org', steps: [{ port: 7000, protocol: 'udp' }], door: 'office', family: 'both', line: 1, keyLines: {} }],
  [
    'rot',
    {
      name: 'rot',
      address: '10.0.0.1',
      steps: [],
      door: 'ssh',
      timeSequence: { length: 3, portMin: 41000, portMax: 41999, periodSeconds: 60, protocols: 'udp', secret: decodeBase32(SECRET_TEXT) },
      line: 5,
      keyLines: {},
    },
  ],
]);

function harness() {
  const sent: { host: string; steps: KnockStep[]; options: SendKnocksOptions }[] = [];
  const joined: { target: ResolvedHost; port: number; waitMs: number }[] = [];
  const out: string[] = [];
  const warnings: string[] = [];
  const configs: (string | undefined)[] = [];
  const io: ConnectIo = {
    now: () => NOW,
    readFile: async () => `${SECRET_TEXT}\n`,
    env: { HOME: '/home/me' },
    out: (line) => out.push(line),
    warn: (line) => warnings.push(line),
    loadHost: async (file, name) => {
      configs.push(file);
      return aliases.get(name);
    },
    send: async (host, steps, options) => {
      sent.push({ host, steps, options });
      options.verbose?.(`hitting ${host}`);
      return options.family === 'both'
        ? [
            { address: '10.0.0.9', family: 4 },
            { address: 'fd00::9', family: 6 },
          ]
        : [{ address: '10.0.0.9', family: 4 }];
    },
    join: async (target, port, waitMs) => {
      joined.push({ target, port, waitMs });
    },
  };
  const program = new Command('nfknock').exitOverride();
  registerConnectCommand(program, io);
  registerSequenceCommand(program, io);
  for (const command of program.commands) command.exitOverride();
  const run = (...args: string[]) => program.parseAsync(args, { from: 'user' });
  return { run, sent, joined, out, warnings, configs };
}

test('connect knocks, then joins the first address knocked on PORT, with --wait; -v goes to stderr', async () => {
  const h = harness();
  await h.run('connect', '-v', '--wait', '3', 'server', '2222', '--', '7000:udp', '8000:tcp', '9000:udp');
  assert.deepEqual(h.sent[0]?.steps, [
    { port: 7000, protocol: 'udp' },
    { port: 8000, protocol: 'tcp' },
    { port: 9000, protocol: 'udp' },
  ]);
  assert.deepEqual(h.joined, [{ target: { address: '10.0.0.9', family: 4 }, port: 2222, waitMs: 3000 }]);
  assert.deepEqual(h.out, [], 'stdout carries the connection only');
  assert.deepEqual(h.warnings, ['hitting server']);
});

test('connect ALIAS PORT uses the alias (and -F); --all-families knocks both and connects to the first', async () => {
  const h = harness();
  await h.run('connect', '-F', '/tmp/c.conf', 'office', '22');
  assert.equal(h.sent[0]?.host, 'gw.example.org');
  assert.equal(h.sent[0]?.options.family, 'both');
  assert.deepEqual(h.configs, ['/tmp/c.conf']);
  assert.deepEqual(h.joined[0], { target: { address: '10.0.0.9', family: 4 }, port: 22, waitMs: 10_000 });
});

test('connect: bad PORT, --wait or sequence are usage errors before any packet', async () => {
  for (const args of [
    ['server', '0', '--', '1'],
    ['server', 'ssh', '--', '1'],
    ['server', '22'],
    ['--wait', '0', 'server', '22', '--', '1'],
    ['--wait', '3601', 'server', '22', '--', '1'],
    ['--wait', 'x', 'server', '22', '--', '1'],
    ['office', '22', '--', '1'],
  ]) {
    const h = harness();
    await assert.rejects(h.run('connect', ...args), usage, args.join(' '));
    assert.equal(h.sent.length + h.joined.length, 0, args.join(' '));
  }
});

test('sequence prints the current port:proto list on stdout and the seconds left on stderr', async () => {
  const h = harness();
  await h.run('sequence', 'rot');
  const expected = deriveSequence(
    { length: 3, portMin: 41000, portMax: 41999, periodSeconds: 60, protocols: 'udp', secret: decodeBase32(SECRET_TEXT) },
    'ssh',
    Math.floor(NOW / 60_000),
  );
  assert.deepEqual(h.out, [expected.map((s) => `${s.port}:${s.protocol}`).join(' ')]);
  assert.match(h.out[0] ?? '', /^\d+:udp \d+:udp \d+:udp$/);
  assert.match(h.warnings[0] ?? '', /^nfknock: 29 s left in this step \(steps are 60 s/);
  assert.equal(h.sent.length, 0, 'sequence sends nothing');

  const flags = harness();
  await flags.run('sequence', '--secret', '/s', '--door', 'ssh', '--ports', '41000-41999', '--length', '3', '--period', '60', '--protocols', 'udp');
  assert.deepEqual(flags.out, h.out, 'the flags and the alias derive the same sequence');
  assert.match(flags.warnings[0] ?? '', /29 s left/);

  const fixed = harness();
  await fixed.run('sequence', 'office');
  assert.deepEqual(fixed.out, ['7000:udp']);
  assert.deepEqual(fixed.warnings, [], 'a fixed sequence has no step');
});

test('sequence: no door, an unknown alias, or both an alias and a secret are usage errors', async () => {
  for (const args of [[], ['nosuch'], ['rot', '--secret', '/s', '--door', 'ssh'], ['--secret', '/s']]) {
    const h = harness();
    await assert.rejects(h.run('sequence', ...args), usage, args.join(' '));
    assert.deepEqual(h.out, []);
  }
});

test('property: connect\'s PORT is exactly a decimal 1-65535 (blanks around it ignored, like every flag), and sequence output is what knock(1) arguments parse back to', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: -5, max: 70_000 }).map(String), fc.string({ maxLength: 7 })), (text) => {
      const digits = text.trim();
      const valid = /^\d+$/.test(digits) && Number(digits) >= 1 && Number(digits) <= 65535;
      if (valid) assert.equal(parseServicePort(text), Number(digits));
      else assert.throws(() => parseServicePort(text), usage, text);
    }),
    { numRuns: 5000 },
  );
  const step = fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp' as const, 'udp' as const) }, { noNullPrototype: true });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 64 }), (steps) => {
      assert.deepEqual(parseKnockTargets(formatKnockArguments(steps).split(' '), 'tcp'), steps);
    }),
    { numRuns: 2000 },
  );
});
