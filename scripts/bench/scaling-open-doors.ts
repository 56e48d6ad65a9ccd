/**
 * Scaling scenario `open-doors` (issue 14): the cost of one more open with `size` doors already open,
 * through the real DoorService and StateStore on a tmpfs directory (fdatasync costs nothing there:
 * what is left is the CPU and the bytes a decision costs, which is what grows with the doors open).
 *
 * 300 opens are measured one at a time from `size` open doors, each waited for, so no group commit
 * helps them; the compaction they cause in the background is added, spread over the records that
 * trigger one. The whole-file save of earlier versions (sort every pending close, serialize,
 * writeAtomic), as the open of door `size` + 1 did it, is measured on the same directory for comparison.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Door } from '../../src/core/types.js';
import type { Timers } from '../../src/core/timers.js';
import { Audit } from '../../src/daemon/audit.js';
import { Counters } from '../../src/daemon/counters.js';
import { DoorService, type DoorPorts } from '../../src/daemon/door-service.js';
import { OneTimeDoors } from '../../src/daemon/one-time-doors.js';
import { SequenceBook } from '../../src/matcher/sequences.js';
import { serializeState, type PendingClose } from '../../src/state/state-format.js';
import { StateStore } from '../../src/state/state-store.js';
import { TrustedDirectory } from '../../src/trust/open.js';

export interface OpenDoorsFigures {
  /** CPU µs per open, decision + journal append, plus its share of the background compaction. */
  usPerOpen: number;
  appendUsPerOpen: number;
  compactionMs: number;
  /** Bytes this process wrote (write(2), /proc/self/io wchar) per open, compaction share included. */
  bytesPerOpen: number;
  wholeFileUsPerOpen: number;
  wholeFileBytesPerOpen: number;
  /** CPU µs per close of the measured doors (their stop commands do nothing), with `size` still open. */
  usPerClose: number;
}

/** The doors already open close later than the measured ones, so that these can be closed alone. */
const longDoor: Door = {
  name: 'bench-long',
  steps: [],
  seqTimeoutMs: 5000,
  tcpFlags: { required: 0, forbidden: 0 },
  startCommand: '/usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
  stopCommand: '/usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
  cmdTimeoutMs: 7_200_000,
  line: 1,
  keyLines: {},
};
const door: Door = { ...longDoor, name: 'bench', cmdTimeoutMs: 3_600_000 };

/** No close falls due during the bench. */
const idleTimers: Timers = { setTimeout: () => 0, clearTimeout: () => undefined, setInterval: () => 0, clearInterval: () => undefined };

const sourceOf = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

function writtenBytes(): number {
  return Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

function benchDirectory(): string {
  let base = tmpdir();
  try {
    if (statSync('/dev/shm').isDirectory()) base = '/dev/shm';
  } catch {
    // no tmpfs there: the temp dir will do (fdatasync then costs real I/O)
  }
  return mkdtempSync(join(base, 'nfknock-open-doors-'));
}

export async function openDoorsScenario(size: number): Promise<OpenDoorsFigures> {
  // The same code warmed up (JIT) in a directory of its own first, so that small sizes are not measured cold.
  await measureOpens(2000, 300);
  return measureOpens(size, 300);
}

async function measureOpens(size: number, opens: number): Promise<OpenDoorsFigures> {
  const dir = benchDirectory();
  const store = new StateStore(join(dir, 'state'));
  try {
    await store.load();
    const logger = pino({ level: 'silent' });
    let clockOffset = 0;
    const ports: DoorPorts = {
      clock: { now: () => Date.now() + clockOffset },
      logger,
      audit: new Audit(logger, [], false),
      state: { record: (change) => store.record(change), saveUsedSteps: (steps) => store.saveUsedSteps(steps) },
      runCommand: async () => ({ exitCode: 0, signal: null, timedOut: false, stderr: '' }),
      commandTimeoutMs: 60_000,
      oneTime: { read: async () => [], markUsed: async () => undefined },
    };
    const service = new DoorService(ports, { counters: new Counters(), timers: idleTimers, oneTime: new OneTimeDoors(ports, new SequenceBook()), usedSteps: () => new Map() }, []);
    const open = (n: number, which = door) => service.open(which, sourceOf(n), 4, Date.now(), { steps: which.steps, id: 'fixed' });
    // The doors already open: decided together, saved in a few group commits.
    for (let n = 0; n < size; n++) open(n, longDoor);
    await service.idle();
    await store.compact();
    if (service.openDoors().length !== size) throw new Error(`expected ${size} open doors, have ${service.openDoors().length}`);

    globalThis.gc?.();
    const bytesBefore = writtenBytes();
    const cpu = process.cpuUsage();
    for (let n = size; n < size + opens; n++) {
      open(n);
      await service.idle();
    }
    const appendUs = cpuMicros(cpu) / opens;
    const appendBytes = (writtenBytes() - bytesBefore) / opens;
    const journalBytes = appendBytes;

    // One compaction at this size, and how many records it waits for: the journal reaches twice the snapshot.
    globalThis.gc?.();
    const compactionBytesBefore = writtenBytes();
    const compactionCpu = process.cpuUsage();
    await store.compact();
    const compactionUs = cpuMicros(compactionCpu);
    const snapshotBytes = writtenBytes() - compactionBytesBefore;
    const recordsPerCompaction = Math.max(1, (2 * snapshotBytes) / journalBytes);

    const whole = await wholeFileSaves(join(dir, 'state'), service.openDoors().slice(0, size + 1));

    // The measured doors fall due (the wall clock an hour on) and close, one timer's worth.
    globalThis.gc?.();
    clockOffset = 3_601_000;
    const closeCpu = process.cpuUsage();
    await service.start();
    await service.idle();
    const usPerClose = cpuMicros(closeCpu) / opens;
    if (service.openDoors().length !== size) throw new Error(`expected ${size} doors left open, have ${service.openDoors().length}`);
    return {
      usPerOpen: appendUs + compactionUs / recordsPerCompaction,
      appendUsPerOpen: appendUs,
      compactionMs: compactionUs / 1000,
      bytesPerOpen: appendBytes + snapshotBytes / recordsPerCompaction,
      wholeFileUsPerOpen: whole.us,
      wholeFileBytesPerOpen: whole.bytes,
      usPerClose,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What every decision cost before the journal: the list sorted, serialized and written whole. */
async function wholeFileSaves(stateDir: string, open: readonly PendingClose[]): Promise<{ us: number; bytes: number }> {
  const directory = await TrustedDirectory.open(stateDir, 'state-dir');
  try {
    const byId = new Map(open.map((pending) => [pending.id, pending]));
    const saves = Math.max(10, Math.min(300, Math.round(300_000 / Math.max(1, open.length))));
    globalThis.gc?.();
    const bytesBefore = writtenBytes();
    const cpu = process.cpuUsage();
    for (let i = 0; i < saves; i++) {
      const list = [...byId.values()].sort((a, b) => a.closesAt - b.closesAt);
      await directory.writeAtomic('whole-file-save.json', serializeState(list), 0o600);
    }
    return { us: cpuMicros(cpu) / saves, bytes: (writtenBytes() - bytesBefore) / saves };
  } finally {
    await directory.close();
  }
}
