import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoggerStderrReport } from '../src/logging/logger-stderr.js';
import { createLogger } from '../src/logging/logger.js';

function memoryLogger() {
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => records.push(JSON.parse(s)) } });
  return { logger, records };
}

test('complaints are reported at once, then at most once a minute with the count of lines since', () => {
  const { logger, records } = memoryLogger();
  let now = 1_000_000;
  const report = new LoggerStderrReport(logger, () => now);
  report.add('logger: send message failed: Operation not permitted\nlogger: send mess');
  assert.equal(records.length, 1);
  report.add('age failed: Operation not permitted\n');
  now += 59_999;
  report.add('logger: third\n');
  assert.equal(records.length, 1);
  now += 1;
  report.add('logger: fourth\n\n');
  assert.equal(records.length, 2);
  assert.equal(records[1]?.['complaints'], 3);
  assert.equal(records[1]?.['stderr'], 'logger: fourth');
});

test('a line split across chunks is reported whole, and an endless line cannot grow the buffer', () => {
  const { logger, records } = memoryLogger();
  const report = new LoggerStderrReport(logger, () => 0);
  report.add('x'.repeat(100_000));
  report.add('tail\n');
  assert.equal(records.length, 1);
  assert.ok(String(records[0]?.['stderr']).length <= 500);
});
