import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, openSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFollower } from '../src/sources/file-follow.js';
import { KernelLogFileSource } from '../src/sources/kernel-log-file.js';
import { filteringSink } from '../src/sources/filtering-sink.js';
import type { NfknockError } from '../src/core/errors.js';
import { realLines, realSyslogLines } from './helpers/logline-fixtures.js';
import { RecordingSink, waitFor } from './helpers/logline-sink.js';

let dir: string;
let path: string;
let follower: FileFollower | undefined;
let lines: string[];
let discards: string[];
let troubles: NfknockError[];

function follow(extra: { maxLineBytes?: number } = {}): FileFollower {
  follower = new FileFollower({
    path,
    pollMs: 20,
    onLine: (line) => lines.push(line),
    onDiscard: (reason) => discards.push(reason),
    onTrouble: (error) => troubles.push(error),
    ...extra,
  });
  return follower;
}

/** Long enough for several poll periods: a line that was going to be (wrongly) delivered would be. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 120));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfkc-follow-'));
  path = join(dir, 'kernel.log');
  lines = [];
  discards = [];
  troubles = [];
});

afterEach(async () => {
  await follower?.close();
  follower = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('FileFollower', () => {
  it('starts at the end: lines present at start are never delivered', async () => {
    writeFileSync(path, 'old 1\nold 2\n');
    await follow().start();
    appendFileSync(path, 'new 1\n');
    await waitFor(() => lines.length === 1, 'the appended line');
    await settle();
    assert.deepEqual(lines, ['new 1']);
  });

  it('holds a partial line until its newline arrives', async () => {
    writeFileSync(path, '');
    await follow().start();
    appendFileSync(path, 'first ha');
    await settle();
    assert.deepEqual(lines, []);
    appendFileSync(path, 'lf\r\nsecond\n');
    await waitFor(() => lines.length === 2, 'two lines');
    assert.deepEqual(lines, ['first half', 'second']);
  });

  it('follows rotation by rename without losing lines written to the old file', async () => {
    writeFileSync(path, '');
    const writer = openSync(path, 'a');
    await follow().start();
    writeSync(writer, 'before rotation\n');
    await waitFor(() => lines.length === 1, 'the first line');
    renameSync(path, `${path}.1`);
    // The logger keeps writing to its open file until it is told to reopen.
    writeSync(writer, 'after rename, old file\n');
    writeSync(writer, 'still old\n');
    closeSync(writer);
    writeFileSync(path, 'new file 1\nnew file 2\n');
    await waitFor(() => lines.length === 5, 'all five lines');
    assert.deepEqual(lines, ['before rotation', 'after rename, old file', 'still old', 'new file 1', 'new file 2']);
  });

  it('follows copytruncate', async () => {
    writeFileSync(path, 'x'.repeat(100) + '\n');
    await follow().start();
    appendFileSync(path, 'one\n');
    await waitFor(() => lines.length === 1, 'first line');
    truncateSync(path, 0);
    await settle();
    appendFileSync(path, 'two\n');
    await waitFor(() => lines.length === 2, 'line after truncation');
    assert.deepEqual(lines, ['one', 'two']);
  });

  it('waits for a file absent at start and reads it from its beginning', async () => {
    await follow().start();
    assert.equal(troubles.length, 1);
    assert.equal(troubles[0]?.code, 'NFK_SOURCE_UNAVAILABLE');
    await settle();
    writeFileSync(path, 'created 1\ncreated 2\n');
    await waitFor(() => lines.length === 2, 'lines of the new file');
    assert.deepEqual(lines, ['created 1', 'created 2']);
    assert.equal(troubles.length, 1, 'missing file reported once');
  });

  it('drops a line longer than the limit and goes on with the next', async () => {
    writeFileSync(path, '');
    await follow({ maxLineBytes: 64 }).start();
    appendFileSync(path, `${'y'.repeat(50)}`);
    await settle();
    appendFileSync(path, `${'y'.repeat(50)}\nshort\n`);
    await waitFor(() => lines.length === 1, 'the short line');
    assert.deepEqual(lines, ['short']);
    assert.deepEqual(discards, ['line-too-long']);
  });

  it('delivers nothing after close', async () => {
    writeFileSync(path, '');
    await follow().start();
    await follower?.close();
    appendFileSync(path, 'late\n');
    await settle();
    assert.deepEqual(lines, []);
  });
});

describe('KernelLogFileSource', () => {
  it('turns kernel lines into events, dated by precise stamps, and rejects forged tags', async () => {
    writeFileSync(path, '');
    const sink = new RecordingSink();
    // Within a minute of the traditional line's stamp (10:09:01): older lines are stale.
    const receivedAt = Date.UTC(2026, 10, 22, 10, 9, 30);
    const source = new KernelLogFileSource({ path, prefix: 'portknock', sink, clock: { now: () => receivedAt }, pollMs: 20 });
    await source.start();
    try {
      appendFileSync(path, `${realSyslogLines.precise}\n`);
      appendFileSync(path, `${realSyslogLines.traditionalWithUptime}\n`);
      appendFileSync(path, `Nov 22 10:09:01 vm myapp: ${realLines.udpSpace}\n`);
      appendFileSync(path, `${realSyslogLines.loggerForged}\n`);
      await waitFor(() => sink.events.length + sink.rejects.length === 4, 'four lines handled');
    } finally {
      await source.close();
    }
    assert.equal(sink.events.length, 2);
    assert.deepEqual(sink.events[0], {
      source: '127.0.0.1',
      family: 4,
      destination: '127.0.0.1',
      protocol: 'udp',
      port: 7010,
      tcpFlags: 0,
      inInterface: 'lo',
      at: Date.UTC(2026, 10, 22, 10, 39, 52, 36),
    });
    assert.equal(sink.events[1]?.port, 7000);
    assert.equal(sink.events[1]?.at, receivedAt, 'whole-second stamps fall back to the receive time');
    assert.deepEqual(
      sink.rejects.map((r) => r.reason),
      ['not-kernel', 'missing-field:SRC'],
    );
  });

  it('refuses a kernel line stamped more than a minute ago as stale', async () => {
    writeFileSync(path, '');
    const sink = new RecordingSink();
    const source = new KernelLogFileSource({ path, prefix: 'portknock', sink, clock: { now: () => Date.UTC(2026, 10, 22, 10, 11) }, pollMs: 20 });
    await source.start();
    try {
      appendFileSync(path, `${realSyslogLines.traditionalWithUptime}\n`);
      await waitFor(() => sink.rejects.length === 1, 'the rejection');
    } finally {
      await source.close();
    }
    assert.deepEqual(sink.events, []);
    assert.equal(sink.rejects[0]?.reason, 'stale');
  });

  it('filters on the configured interface', async () => {
    writeFileSync(path, '');
    const sink = new RecordingSink();
    const source = new KernelLogFileSource({ path, prefix: 'portknock', sink: filteringSink(sink, { interface: 'eth0' }), clock: { now: () => 0 }, pollMs: 20 });
    await source.start();
    try {
      appendFileSync(path, `${realSyslogLines.precise}\n`);
      await waitFor(() => sink.rejects.length === 1, 'the rejection');
    } finally {
      await source.close();
    }
    assert.deepEqual(sink.rejects[0], { reason: 'wrong-interface', detail: '127.0.0.1 on lo' });
    assert.equal(sink.events.length, 0);
  });
});
