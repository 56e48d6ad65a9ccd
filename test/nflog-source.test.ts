import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NflogSource, type NflogSocket } from '../src/sources/nflog.js';
import { filteringSink } from '../src/sources/filtering-sink.js';
import type { KnockEvent } from '../src/core/types.js';
import type { NfknockError } from '../src/core/errors.js';
import { errorMessage, doneMessage, ipv4Packet, packetMessage, transportBytes } from './helpers/nflog-builder.js';
import { fakeSysClassNet } from './helpers/fake-sys-class-net.js';

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const sequenceOf = (m: Uint8Array) => (little ? Buffer.from(m).readUInt32LE(8) : Buffer.from(m).readUInt32BE(8));
/** The NFULA_CFG_CMD byte of a config request, or undefined for the settings request. */
const commandOf = (m: Uint8Array) => (m.length === 28 && m[22] === 1 ? m[24] : undefined);

class FakeSocket extends EventEmitter implements NflogSocket {
  sent: Uint8Array[] = [];
  closed = false;
  constructor(private readonly answer: (m: Uint8Array) => number | 'silent' = () => 0) {
    super();
  }
  send(msg: Uint8Array, _options?: undefined, callback?: (error?: Error) => void): void {
    this.sent.push(msg);
    callback?.();
    const errno = this.answer(msg);
    if (errno !== 'silent') setImmediate(() => this.emit('message', errorMessage(errno, sequenceOf(msg))));
  }
  close(): void {
    this.closed = true;
  }
  getRecvBufferSize(): number {
    return 8 << 20;
  }
}

function recordingSink() {
  const record = { events: [] as KnockEvent[], rejects: [] as Array<[string, string | undefined]>, overruns: [] as string[], troubles: [] as NfknockError[] };
  return {
    record,
    sink: {
      // A copy: the source refills one event object per packet (SourceSink.event).
      event: (e: KnockEvent) => record.events.push({ ...e }),
      reject: (reason: string, detail?: string) => record.rejects.push([reason, detail]),
      overrun: (what: string) => record.overruns.push(what),
      trouble: (error: NfknockError) => record.troubles.push(error),
    },
  };
}

const udpKnock = (ifindex: number, port = 7000) =>
  packetMessage({ ifindex, payload: ipv4Packet({ source: '192.0.2.1', destination: '192.0.2.2', protocol: 17, transport: transportBytes({ protocol: 'udp', port }) }) });

test('start binds and configures the group, waiting for each ACK; close unbinds and closes the socket', async () => {
  const socket = new FakeSocket();
  const { sink } = recordingSink();
  const source = new NflogSource({ group: 5, prefix: 'portknock', sink, clock: { now: () => 0 }, openSocket: () => socket });
  await source.start();
  assert.equal(source.receiveBufferBytes, 8 << 20);
  assert.deepEqual(socket.sent.map(commandOf), [1, undefined]);
  await source.close();
  assert.deepEqual(socket.sent.map(commandOf), [1, undefined, 2]);
  assert.equal(socket.closed, true);
});

/** A stand-in for /proc/net/netfilter/nfnetlink_log, removed after the test. */
function fakeProcFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfkb-proc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nfnetlink_log');
}

test('EPERM from the kernel becomes NFK_PERMISSION naming CAP_NET_ADMIN', async (t) => {
  const socket = new FakeSocket(() => 1);
  const { sink } = recordingSink();
  const proc = fakeProcFile(t);
  writeFileSync(proc, '');
  const source = new NflogSource({ group: 5, prefix: 'portknock', sink, clock: { now: () => 0 }, openSocket: () => socket, procNfnetlinkLog: proc });
  await assert.rejects(source.start(), (e: NfknockError) => e.code === 'NFK_PERMISSION' && /CAP_NET_ADMIN/.test(e.message));
  assert.equal(socket.closed, true);
});

test('a group bound by another socket becomes NFK_SOURCE_UNAVAILABLE naming the group and its holder', async (t) => {
  const socket = new FakeSocket(() => 1);
  const { sink } = recordingSink();
  const proc = fakeProcFile(t);
  writeFileSync(proc, '    3  99999     0 2   128      1  1\n    5 4194305     0 2   128      1  1\n');
  const source = new NflogSource({ group: 5, prefix: 'portknock', sink, clock: { now: () => 0 }, openSocket: () => socket, procNfnetlinkLog: proc });
  await assert.rejects(source.start(), (e: NfknockError) => e.code === 'NFK_SOURCE_UNAVAILABLE' && /NFLOG group 5 is already bound .*port 4194305/.test(e.message));
});

test('EBUSY becomes NFK_SOURCE_UNAVAILABLE; a silent kernel times out as NFK_SOURCE_FAILED', async () => {
  const { sink } = recordingSink();
  const proc = '/nonexistent/nfnetlink_log';
  const busy = new NflogSource({ group: 6, prefix: 'p', sink, clock: { now: () => 0 }, openSocket: () => new FakeSocket(() => 16), procNfnetlinkLog: proc });
  await assert.rejects(busy.start(), (e: NfknockError) => e.code === 'NFK_SOURCE_UNAVAILABLE' && /group 6/.test(e.message));
  const silent = new NflogSource({ group: 6, prefix: 'p', sink, clock: { now: () => 0 }, openSocket: () => new FakeSocket(() => 'silent'), replyTimeoutMs: 50 });
  await assert.rejects(silent.start(), (e: NfknockError) => e.code === 'NFK_SOURCE_FAILED' && /did not answer/.test(e.message));
});

test('a socket that cannot be opened becomes NFK_SOURCE_UNAVAILABLE', async () => {
  const { sink } = recordingSink();
  const source = new NflogSource({
    group: 6,
    prefix: 'p',
    sink,
    clock: { now: () => 0 },
    openSocket: () => {
      throw new Error('Protocol not supported');
    },
  });
  await assert.rejects(source.start(), (e: NfknockError) => e.code === 'NFK_SOURCE_UNAVAILABLE' && /Protocol not supported/.test(e.message));
});

test('events get their interface name; the interface filter rejects other interfaces; done is not counted', async () => {
  const socket = new FakeSocket();
  const { sink, record } = recordingSink();
  const sysClassNet = fakeSysClassNet({ lo: 1, eth0: 2 });
  try {
    let now = 1234;
    const source = new NflogSource({ group: 5, prefix: 'portknock', sink: filteringSink(sink, { interface: 'eth0' }), clock: { now: () => now }, openSocket: () => socket, sysClassNet });
    await source.start();
    socket.emit('message', Buffer.concat([udpKnock(2, 1), udpKnock(1, 2), udpKnock(0, 3), udpKnock(9, 4), doneMessage()]));
    assert.deepEqual(
      record.events.map((e) => [e.port, e.inInterface, e.at]),
      [[1, 'eth0', 1234]],
    );
    assert.deepEqual(record.rejects, [
      ['wrong-interface', '192.0.2.1 on lo'],
      ['wrong-interface', '192.0.2.1 on an unknown interface'],
      ['wrong-interface', '192.0.2.1 on an unknown interface'],
    ]);
    // A re-created interface is found by re-reading the table, at most once a second.
    writeFileSync(join(sysClassNet, 'eth0', 'ifindex'), '9\n');
    socket.emit('message', udpKnock(9, 5));
    assert.equal(record.rejects.length, 4);
    now += 1000;
    socket.emit('message', udpKnock(9, 6));
    assert.deepEqual(
      record.events.map((e) => [e.port, e.inInterface]),
      [
        [1, 'eth0'],
        [6, 'eth0'],
      ],
    );
    await source.close();
  } finally {
    rmSync(sysClassNet, { recursive: true, force: true });
  }
});

test('ENOBUFS is an overrun and reading goes on; other socket errors are trouble; nothing after close', async () => {
  const socket = new FakeSocket();
  const { sink, record } = recordingSink();
  const source = new NflogSource({ group: 5, prefix: 'portknock', sink, clock: { now: () => 0 }, openSocket: () => socket, sysClassNet: '/nonexistent' });
  await source.start();
  socket.emit('error', Object.assign(new Error('recvmsg: No buffer space available'), { code: 'ENOBUFS', errno: 105 }));
  socket.emit('message', udpKnock(0));
  socket.emit('error', Object.assign(new Error('recvmsg: boom'), { code: 'EIO', errno: 5 }));
  socket.emit('message', errorMessage(22, 999));
  assert.deepEqual(record.overruns, ['nflog']);
  assert.equal(record.events.length, 1);
  assert.equal(record.troubles[0]?.code, 'NFK_SOURCE_FAILED');
  assert.deepEqual(record.rejects, [['nlmsg-error', 'EINVAL']]);
  await source.close();
  socket.emit('message', udpKnock(0));
  socket.emit('error', Object.assign(new Error('x'), { code: 'ENOBUFS' }));
  assert.equal(record.events.length, 1);
  assert.equal(record.overruns.length, 1);
});

/** The NFULA_CFG_TIMEOUT value of a timeout-only config request, or undefined for any other message. */
const timeoutOf = (m: Uint8Array) => {
  const b = Buffer.from(m);
  const type = little ? b.readUInt16LE(22) : b.readUInt16BE(22);
  return m.length === 28 && type === 4 ? b.readUInt32BE(24) : undefined;
};

test('a flood lengthens the kernel batch timeout to 50 ms; the first batch after it ends brings back 10 ms', async () => {
  const socket = new FakeSocket();
  const { sink, record } = recordingSink();
  let now = 0;
  const source = new NflogSource({ group: 5, prefix: 'portknock', sink, clock: { now: () => now }, openSocket: () => socket, sysClassNet: '/nonexistent' });
  await source.start();
  // The settings request: copy 128 bytes, a threshold (1024) the buffer (65024 bytes) reaches first, 10 ms.
  const settings = Buffer.from(socket.sent[1]!);
  const attributes: Array<[number, number[]]> = [];
  for (let p = 20; p + 4 <= settings.length; ) {
    const length = little ? settings.readUInt16LE(p) : settings.readUInt16BE(p);
    attributes.push([little ? settings.readUInt16LE(p + 2) : settings.readUInt16BE(p + 2), [...settings.subarray(p + 4, p + length)]]);
    p += (length + 3) & ~3;
  }
  assert.deepEqual(attributes, [
    [2, [0, 0, 0, 128, 2, 0]],
    [5, [0, 0, 4, 0]],
    [4, [0, 0, 0, 1]],
    [6, [0, 0]],
    [3, [0, 0, 0xfe, 0]],
  ]);
  const batch = Buffer.concat([...Array.from({ length: 100 }, (_, i) => udpKnock(0, 1000 + i)), doneMessage()]);
  // 600 knocks a second for a second and a half.
  for (let i = 0; i < 9; i++) {
    now += 166;
    socket.emit('message', batch);
  }
  assert.equal(record.events.length, 900);
  assert.deepEqual(socket.sent.map(timeoutOf).filter((t) => t !== undefined), [5]);
  await new Promise((resolve) => setImmediate(resolve));
  now += 60_000;
  socket.emit('message', udpKnock(0, 7000));
  assert.deepEqual(socket.sent.map(timeoutOf).filter((t) => t !== undefined), [5, 1]);
  assert.equal(record.events.at(-1)?.port, 7000);
  await source.close();
});
