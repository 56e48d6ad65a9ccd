import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseClientConfig, type ClientHost } from '../src/client/client-config.js';
import { defaultClientConfigPath } from '../src/client/client-config-path.js';
import { ConfigError } from '../src/config/problems.js';
import { parseConfig } from '../src/config/parse.js';
import { ErrorCodes } from '../src/core/errors.js';

const FILE = '/home/me/.config/nfknock/client.conf';
const SECRET_FILE = '/home/me/.config/nfknock/ssh.secret';

function problemsOf(text: string): { line: number; message: string }[] {
  try {
    parseClientConfig(text, FILE);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => ({ line: p.line, message: p.message }));
  }
  assert.fail('expected a ConfigError');
}

test('aliases with a fixed and a time-based door, knockd.conf syntax (keys in any case, whole-line comments)', () => {
  const config = parseClientConfig(
    [
      '# my doors',
      '[office]',
      '    ADDRESS  = gw.example.org',
      '    sequence = 7000:udp, 8000 ,9000:UDP',
      '    Delay    = 100',
      '    Family   = Both',
      '',
      '[rotating]',
      '    Address            = 2001:db8::1',
      '    Door               = ssh',
      `    Sequence_Secret    = @${SECRET_FILE}`,
      '    Sequence_Ports     = 41000-41999',
      '    Sequence_Length    = 3',
      '    Sequence_Period    = 60',
      '    Sequence_Protocols = mixed',
      '    family = 6',
    ].join('\n'),
    FILE,
  );
  assert.deepEqual([...config.hosts.keys()], ['office', 'rotating']);
  const office = config.hosts.get('office') as ClientHost;
  assert.equal(office.address, 'gw.example.org');
  assert.deepEqual(office.steps, [
    { port: 7000, protocol: 'udp' },
    { port: 8000, protocol: 'tcp' },
    { port: 9000, protocol: 'udp' },
  ]);
  assert.equal(office.delayMs, 100);
  assert.equal(office.family, 'both');
  assert.equal(office.timeSequence, undefined);
  const rotating = config.hosts.get('rotating') as ClientHost;
  assert.equal(rotating.door, 'ssh');
  assert.equal(rotating.family, 6);
  assert.deepEqual(rotating.steps, []);
  assert.deepEqual(rotating.timeSequence, { length: 3, portMin: 41000, portMax: 41999, periodSeconds: 60, protocols: 'mixed', secretFile: SECRET_FILE });
  assert.equal(rotating.keyLines['sequence_secret'], 11);
});

test('the time-based keys mean exactly what they mean in the server door (same reader, same interpretation)', () => {
  const keys = ['Sequence_Secret = @/etc/nfknock/secrets/ssh', 'Sequence_Ports = 30000-30999', 'Sequence_Length = 5', 'Sequence_Period = 45'];
  const server = parseConfig(['[ssh]', ...keys, 'start_command = true'].join('\n'), '/etc/knockd.conf').doors[0];
  const client = parseClientConfig(['[ssh]', 'Address = h', ...keys].join('\n'), FILE).hosts.get('ssh');
  assert.deepEqual(client?.timeSequence, server?.timeSequence);
  assert.equal(client?.door, 'ssh', 'Door defaults to the alias');
});

test('every bad entry is reported at once, each at its file:line', () => {
  const text = [
    '[a]', //                                        1
    'Address = gw.example.org', //                   2
    'Sequence = 7000,,8000', //                      3: empty port
    'Delay = fast', //                               4
    'Family = 5', //                                 5
    '[b]', //                                        6: no Address
    'Sequence = 1', //                               7
    'Start_Command = true', //                       8: a server key
    '[c]', //                                        9: no sequence
    'Address = h; rm -rf /', //                      10
    '[d]', //                                        11
    'Address = h', //                                12
    'Sequence = 1', //                               13
    'Sequence_Secret = @/s', //                      14: both
    'Sequence_Ports = 1-100', //                     15
    '[e]', //                                        16
    'Address = h', //                                17
    'Door = x', //                                   18: Door without a secret
    'Sequence = 1', //                               19
    'Sequence = 2', //                               20: given twice
    '[f]', //                                        21
    'Address = h', //                                22
    'Sequence_Secret = @relative/path', //           23
    'Sequence_Ports = 1-100', //                     24
  ].join('\n');
  const problems = problemsOf(text);
  const lines = problems.map((p) => p.line);
  for (const line of [3, 4, 5, 6, 8, 9, 10, 14, 18, 20, 23]) assert.ok(lines.includes(line), `line ${line} in ${JSON.stringify(problems)}`);
  assert.deepEqual(lines, [...lines].sort((x, y) => x - y), 'in file order');
  assert.match(problems.find((p) => p.line === 8)?.message ?? '', /unknown key "Start_Command" in \[b\]/);
  try {
    parseClientConfig(text, FILE);
  } catch (error) {
    assert.match((error as ConfigError).describe(), new RegExp(`${FILE.replaceAll('.', '\\.')}:3: \\[a\\]: Sequence: `));
  }
});

test('the secret itself is never quoted back', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQO!!';
  try {
    parseClientConfig(['[a]', 'Address = h', `Sequence_Secret = ${secret}`, 'Sequence_Ports = 1-100'].join('\n'), FILE);
    assert.fail('accepted a bad secret');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.doesNotMatch(error.describe(), /GEZDGNBV/);
  }
});

test('XDG_CONFIG_HOME is respected when absolute, else ~/.config', () => {
  assert.equal(defaultClientConfigPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/me' }), '/x/cfg/nfknock/client.conf');
  assert.equal(defaultClientConfigPath({ XDG_CONFIG_HOME: 'relative', HOME: '/home/me' }), '/home/me/.config/nfknock/client.conf');
  assert.equal(defaultClientConfigPath({ HOME: '/home/me' }), '/home/me/.config/nfknock/client.conf');
  assert.equal(defaultClientConfigPath({}), undefined);
});

const alias = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);
const hostName = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
const step = fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp' as const, 'udp' as const) });
const fixedHost = fc.record({
  name: alias,
  address: hostName,
  steps: fc.array(step, { minLength: 1, maxLength: 32 }),
  delayMs: fc.option(fc.integer({ min: 0, max: 999_999_999 }), { nil: undefined }),
  family: fc.option(fc.constantFrom(4 as const, 6 as const, 'both' as const), { nil: undefined }),
  keyCase: fc.constantFrom('lower', 'upper', 'as-is'),
});

test('property: rendered aliases parse back to what was written', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fixedHost, { selector: (h) => h.name, maxLength: 5 }), (hosts) => {
      const key = (k: string, c: string) => (c === 'lower' ? k.toLowerCase() : c === 'upper' ? k.toUpperCase() : k);
      const text = hosts
        .flatMap((h) => [
          `[${h.name}]`,
          `  ${key('Address', h.keyCase)} = ${h.address}`,
          `  ${key('Sequence', h.keyCase)}=${h.steps.map((s) => `${s.port}:${s.protocol}`).join(',')}`,
          ...(h.delayMs === undefined ? [] : [`${key('Delay', h.keyCase)} = ${h.delayMs}`]),
          ...(h.family === undefined ? [] : [`  # family\n  ${key('Family', h.keyCase)} = ${h.family}`]),
        ])
        .join('\n');
      const parsed = parseClientConfig(text, FILE);
      assert.deepEqual([...parsed.hosts.keys()], hosts.map((h) => h.name));
      for (const h of hosts) {
        const got = parsed.hosts.get(h.name) as ClientHost;
        assert.equal(got.address, h.address);
        assert.deepEqual(got.steps, h.steps.map((s) => ({ port: s.port, protocol: s.protocol })));
        assert.equal(got.delayMs, h.delayMs);
        assert.equal(got.family, h.family);
      }
    }),
    { numRuns: 2000 },
  );
});

test('fuzz: any text either parses to usable aliases or is refused with a line-numbered ConfigError', () => {
  const lineText = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('[a]', '[b]', '[]', '[x', 'Address = h', 'Address =', 'Sequence = 1:udp', 'Sequence_Secret = @/s', 'Sequence_Ports = 1-9', 'Door = d', 'Delay = 5', 'Family = both', '#c', '=', 'Address'),
  );
  fc.assert(
    fc.property(fc.array(lineText, { maxLength: 30 }), (lines) => {
      const text = lines.join('\n');
      const lineCount = text.split('\n').length;
      let hosts: Map<string, ClientHost>;
      try {
        hosts = parseClientConfig(text, FILE).hosts;
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        assert.ok(error.code === ErrorCodes.CONFIG_SYNTAX || error.code === ErrorCodes.CONFIG_INVALID);
        for (const p of error.problems) assert.ok(p.line >= 1 && p.line <= lineCount && p.file === FILE);
        return;
      }
      for (const host of hosts.values()) {
        assert.ok(host.address.length > 0);
        assert.ok((host.steps.length > 0) !== (host.timeSequence !== undefined), 'exactly one kind of sequence');
      }
    }),
    { numRuns: 5000 },
  );
});
