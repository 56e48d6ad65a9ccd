import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit } from '../src/daemon/audit.js';
import { createLogger } from '../src/logging/logger.js';
import { loadEventSchema, parseEventSchema, undocumented } from './helpers/event-schema.js';

function recordingAudit() {
  const records: Array<Record<string, unknown>> = [];
  const observed: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => records.push(JSON.parse(s)) } });
  const audit = new Audit(logger, [], true, (_at, record) => observed.push(record));
  return { audit, records, observed };
}

const result = { exitCode: 0, signal: null, timedOut: false, stderr: '' };

/** One call per public method of Audit, with every variant that writes a different record. */
const calls: Record<string, (audit: Audit) => void> = {
  started: (a) => a.started(1, 'NFLOG group 5'),
  stopping: (a) => a.stopping(1),
  reloaded: (a) => a.reloaded(1, '/etc/knockd.conf'),
  reloadRefused: (a) => a.reloadRefused(1, '/etc/knockd.conf', 'bad'),
  stage: (a) => {
    // Past the limiter's 200 lines per 10 s, so that the `suppressed` summary is written too.
    for (let i = 0; i < 250; i++) a.stage(1, '10.0.0.2', 'ssh', 1);
    a.stage(20_000, '10.0.0.2', 'ssh', 2);
  },
  broken: (a) => {
    // As the daemon calls it: with the matcher's whole action, which has more than port and protocol.
    const action = { kind: 'broken', door: { name: 'ssh', stopCommand: 'secret' }, family: 4, at: 1, port: 7001, protocol: 'tcp' as const };
    a.broken(1, '10.0.0.2', 'ssh', 1, action);
  },
  timedOut: (a) => a.timedOut(1, '10.0.0.2', 'ssh', 1),
  open: (a) => {
    a.open(1, '10.0.0.2', 'ssh', 'fixed');
    a.open(1, '10.0.0.2', 'ssh', 'line:3', '7000:tcp,8000:tcp,9000:tcp');
  },
  extended: (a) => a.extended(1, '10.0.0.2', 'ssh', 2),
  replay: (a) => a.replay(1, '10.0.0.2', 'ssh', 'line:3'),
  running: (a) => a.running(1, '10.0.0.2', 'ssh', 'true', 'start'),
  commandTimeout: (a) => a.commandTimeout(1, '10.0.0.2', 'ssh'),
  commandResult: (a) => {
    a.commandResult(1, '10.0.0.2', 'ssh', result, 1000, 'start');
    a.commandResult(1, '10.0.0.2', 'ssh', { ...result, exitCode: 1, stderr: 'no such chain' }, 1000, 'stop');
    a.commandResult(1, '10.0.0.2', 'ssh', { ...result, exitCode: null, signal: 'SIGKILL', timedOut: true }, 1000, 'stop');
    a.commandResult(1, '10.0.0.2', 'ssh', { ...result, exitCode: null, signal: 'SIGTERM' }, 1000, 'stop');
  },
  refused: (a) => a.refused(1, '10.0.0.2', 'ssh', 'queue full'),
  closing: (a) => a.closing(1, '10.0.0.2', 'ssh'),
  oneTimeExhausted: (a) => a.oneTimeExhausted(1, 'ssh'),
};

test('every record the audit module writes is listed in docs/events.md, and every listed event is written', () => {
  const schema = loadEventSchema();
  const methods = Object.getOwnPropertyNames(Audit.prototype).filter((name) => name !== 'constructor' && !['emit', 'admitted'].includes(name));
  assert.deepEqual(methods.sort(), Object.keys(calls).sort(), 'a new Audit method needs a call here (and its event in docs/events.md)');
  const { audit, records, observed } = recordingAudit();
  for (const call of Object.values(calls)) call(audit);
  const problems = records.flatMap((record) => undocumented(record, schema));
  assert.deepEqual([...new Set(problems)], []);
  const written = new Set(records.map((record) => record['event']));
  assert.deepEqual([...schema.events.keys()].filter((event) => !written.has(event)), [], 'docs/events.md lists events nothing writes');
  for (const field of schema.common) assert.ok(field in (records[0] as object), `pino writes no "${field}"`);
  // The observer (the metrics) sees the same records, and also the ones the limiter held back.
  assert.ok(observed.length >= records.length);
});

test('the observer counts replays the limiter keeps out of the log', () => {
  const { audit, records, observed } = recordingAudit();
  for (let i = 0; i < 500; i++) audit.replay(1, `10.0.${i >> 8}.${i & 255}`, 'ssh', 'line:1');
  assert.equal(observed.filter((r) => r['event'] === 'replay').length, 500);
  assert.ok(records.filter((r) => r['event'] === 'replay').length < 500);
});

test('the schema parser refuses a document without a version, and reports undocumented events and fields', () => {
  assert.throws(() => parseEventSchema('# x\n'), /Schema version/);
  const schema = parseEventSchema(['Schema version: 3', '## Fields every record has', '| `msg` | x |', '## Events', '| `open` | `door` | info | x |'].join('\n'));
  assert.equal(schema.version, 3);
  assert.deepEqual(undocumented({ msg: 'm', event: 'open', door: 'd' }, schema), []);
  assert.deepEqual(undocumented({ msg: 'm', event: 'open', door: 'd', source: '10.0.0.2' }, schema), ['event "open" has field "source", not in docs/events.md']);
  assert.deepEqual(undocumented({ event: 'close' }, schema), ['event "close" is not in docs/events.md']);
  assert.deepEqual(undocumented({ msg: 'diagnostic', err: {} }, schema), []);
});
