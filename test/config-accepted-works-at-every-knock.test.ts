/**
 * Issue 10, finding 8: "an accepted config can fail at every knock". What the parser accepts must
 * work at every knock; a door that fails anyway is skipped, never the packet or the other doors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig } from '../src/config/parse.js';
import { ConfigError } from '../src/config/problems.js';
import { deriveSequence, timeStepAt } from '../src/timeseq/derive.js';
import { createTimeSequenceDeriver } from '../src/timeseq/deriver.js';
import { simulate } from '../src/simulate/simulate.js';
import { defaultOptions, TcpFlag, type Config, type Door, type KnockStep } from '../src/core/types.js';
import type { OneTimeLine } from '../src/matcher/sequences.js';
import { configModel, render } from './helpers/config-model.js';

const FILE = '/etc/knockd.conf';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const AT = Date.UTC(2026, 10, 22, 10, 0, 0);

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    throw error;
  }
  return [];
}

test('Sequence_Period beyond what derivation takes is refused at its line (it used to throw at every knock)', () => {
  const text = `[timed]\nSequence_Secret = ${SECRET}\nSequence_Ports = 20000-29999\nSequence_Period = 100000\ncommand = true\n`;
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0] as string, /^\/etc\/knockd\.conf:4: Sequence_Period must be a whole number of seconds from 5 to 86400/);
  assert.deepEqual(problemsOf(text.replace('100000', '86400')), []);
});

test('the parser refuses what the state file or the matcher could never use, with file:line', () => {
  assert.match(problemsOf(`[d]\nsequence = 1,2,3\ncommand = true\nstop_command = echo \u001b[31m %IP%\n`).join(), /:4: Stop_Command holds a control character/);
  assert.match(problemsOf(`[d]\nsequence = 1,2,3\ncommand = true\nstop_command = ${'%IP%'.repeat(2000)}\n`).join(), /:4: Stop_Command can grow to \d+ characters/);
  assert.match(problemsOf(`[${'n'.repeat(300)}]\nsequence = 1,2,3\ncommand = true\n`).join(), /:1: door name is 300 characters/);
  assert.match(problemsOf(`[d]\nsequence = 1,2,3\ntarget = 0.0.0.0\ncommand = true\n`).join(), /:3: Target is the unspecified address/);
  assert.match(problemsOf(`[d]\nsequence = 1,2,3\ntarget = ::\ncommand = true\n`).join(), /:3: Target is the unspecified address/);
  // Tabs stay allowed: hand-edited configs use them.
  assert.deepEqual(problemsOf(`[d]\nsequence = 1,2,3\ncommand = true\nstop_command = echo\t%IP%\n`), []);
});

function door(overrides: Partial<Door>): Door {
  return { name: 'd', steps: [], seqTimeoutMs: 5000, tcpFlags: { required: 0, forbidden: 0 }, cmdTimeoutMs: 0, line: 1, keyLines: {}, startCommand: 'true', ...overrides };
}

test('a door whose sequence cannot be derived is reported once and skipped; the next door still opens', () => {
  const broken = door({ name: 'broken', timeSequence: { secret: new Uint8Array(32), length: 4, portMin: 20000, portMax: 29999, periodSeconds: 100000, protocols: 'tcp' } });
  const fixed = door({ name: 'fixed', steps: [{ port: 7000, protocol: 'tcp' }, { port: 8000, protocol: 'tcp' }] });
  const config: Config = { file: FILE, options: { ...defaultOptions, source: 'file', stateDir: '/x', maxAttempts: 100 }, doors: [broken, fixed] };
  const failures: string[] = [];
  const deriver = createTimeSequenceDeriver((d, error) => failures.push(`${d.name}: ${error.message}`));
  const lines = [7000, 8000, 7000, 8000].map((port, i) => kernelLine({ source: '203.0.113.9', port, protocol: 'tcp', flags: TcpFlag.SYN, at: AT + i * 1000, id: i }));
  const report = simulate(lines, config, { reference: AT, utcOffsetAt: () => 0, deriver });
  assert.deepEqual(report.opens.map((open) => open.door), ['fixed', 'fixed']);
  assert.equal(failures.length, 1, failures.join('\n'));
  assert.match(failures[0] as string, /^broken: .*period 100000 s/);
});

const FLAG_ORDER: [string, number][] = [['URG', TcpFlag.URG], ['ACK', TcpFlag.ACK], ['PSH', TcpFlag.PSH], ['RST', TcpFlag.RST], ['SYN', TcpFlag.SYN], ['FIN', TcpFlag.FIN]];

function expand6(address: string): string {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** A kernel LOG line as rsyslog writes it (RFC 3339, high precision), to `destination`. */
function kernelLine(k: { source: string; destination?: string; port: number; protocol: 'tcp' | 'udp'; flags: number; at: number; id: number; prefix?: string; inInterface?: string }): string {
  const v6 = k.source.includes(':');
  const destination = k.destination ?? (v6 ? '2001:db8::1' : '192.0.2.1');
  const ip = v6
    ? `SRC=${expand6(k.source)} DST=${expand6(destination)} LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=${k.id + 1}`
    : `SRC=${k.source} DST=${destination} LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=${k.id + 1} DF`;
  const head = `${k.prefix ?? 'portknock'} IN=${k.inInterface ?? 'eth0'} OUT= MAC=22:64:54:8d:c7:3d:3e:21:d2:5a:df:d9:${v6 ? '86:dd' : '08:00'} ${ip}`;
  const transport = k.protocol === 'udp'
    ? `PROTO=UDP SPT=41766 DPT=${k.port} LEN=8 `
    : `PROTO=TCP SPT=50322 DPT=${k.port} WINDOW=64240 RES=0x00 ${FLAG_ORDER.filter(([, bit]) => k.flags & bit).map(([name]) => `${name} `).join('')}URGP=0 `;
  return `${new Date(k.at).toISOString().slice(0, 23)}000+00:00 gate kernel: ${head} ${transport}`;
}

const ONE_TIME: KnockStep[] = [{ port: 4321, protocol: 'udp' }, { port: 5432, protocol: 'tcp' }, { port: 6543, protocol: 'tcp' }];

test('property: for any config the parser accepts, simulating each door\'s own sequence opens that door', () => {
  fc.assert(
    fc.property(configModel, (model) => {
      const { text } = render(model, FILE);
      const config = parseConfig(text, FILE);
      for (const target of config.doors) {
        const spec = target.timeSequence;
        const start = spec ? Math.floor(AT / (spec.periodSeconds * 1000)) * spec.periodSeconds * 1000 + 100 : AT;
        const steps = spec?.secret ? deriveSequence({ ...spec, secret: spec.secret }, target.name, timeStepAt(start, spec.periodSeconds)) : target.oneTimeFile !== undefined ? ONE_TIME : target.steps;
        const source = target.target?.includes(':') ? '2001:db8::9' : '203.0.113.9';
        const flags = target.tcpFlags.required | (target.tcpFlags.required === 0 && !(target.tcpFlags.forbidden & TcpFlag.SYN) ? TcpFlag.SYN : 0);
        const lines = steps.map((step, i) => kernelLine({ source, ...(target.target ? { destination: target.target } : {}), port: step.port, protocol: step.protocol, flags, at: start + i * 10, id: i, prefix: config.options.logPrefix, ...(config.options.interface ? { inInterface: config.options.interface } : {}) }));
        const oneTimeLines = new Map<string, OneTimeLine[]>(config.doors.filter((d) => d.oneTimeFile !== undefined).map((d) => [d.name, [{ line: 1, steps: ONE_TIME }]]));
        const report = simulate(lines, config, { reference: start, utcOffsetAt: () => 0, deriver: createTimeSequenceDeriver(), oneTimeLines });
        assert.ok(report.opens.some((open) => open.door === target.name), `door [${target.name}] did not open:\n${lines.join('\n')}\n${JSON.stringify(report.skipped)}`);
      }
    }),
    { numRuns: 150 },
  );
});
