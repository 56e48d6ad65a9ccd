import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ancestorsOf, describeTrustProblem, judgeAncestor, judgeOpened, sharedKernelLogProblem, type TrustKind } from '../src/trust/policy.js';

const FILE = 0o100000;
const DIR = 0o040000;
const LINK = 0o120000;
const FIFO = 0o010000;
const KINDS: TrustKind[] = ['config', 'secret', 'one-time', 'kernel-log', 'shared-kernel-log', 'state-dir', 'state-file', 'log-file', 'pid-file'];

test('a secret or sequence file others can read is refused with the fix: chmod 600 FILE', () => {
  const problem = judgeOpened('/etc/knockd/otp', 'one-time', { mode: FILE | 0o644, uid: 0 }, 0);
  assert.ok(problem);
  assert.equal(describeTrustProblem(problem), 'one-time sequences file /etc/knockd/otp can be read by group/other (mode 0644): chmod 600 /etc/knockd/otp');
  assert.match(describeTrustProblem(judgeOpened('/s', 'secret', { mode: FILE | 0o640, uid: 0 }, 0)!), /chmod 600 \/s$/);
  assert.equal(judgeOpened('/s', 'secret', { mode: FILE | 0o600, uid: 0 }, 0), undefined);
});

test('group/other-writable files are refused for every kind; other owners too', () => {
  for (const kind of KINDS) {
    const type = kind === 'state-dir' ? DIR : FILE;
    assert.match(judgeOpened('/p', kind, { mode: type | 0o666, uid: 0 }, 0)?.problem ?? '', /written by group\/other/, kind);
    assert.match(judgeOpened('/p', kind, { mode: type | 0o600, uid: 1000 }, 0)?.problem ?? '', /owned by uid 1000/, kind);
  }
});

test('the state directory must be the daemon\'s own; other trusted files may be root\'s', () => {
  assert.match(judgeOpened('/var/lib/nfknock', 'state-dir', { mode: DIR | 0o700, uid: 0 }, 1000)?.problem ?? '', /owned by uid 0/);
  assert.equal(judgeOpened('/etc/knockd.conf', 'config', { mode: FILE | 0o644, uid: 0 }, 1000), undefined);
});

test('a directory, FIFO or symlink where a file is expected is refused as the wrong type', () => {
  for (const mode of [DIR | 0o600, FIFO | 0o600, LINK | 0o777, 0o020000 | 0o600]) {
    const problem = judgeOpened('/var/log/nfknock/kernel.log', 'kernel-log', { mode, uid: 0 }, 0);
    assert.ok(problem?.wrongType, mode.toString(8));
  }
});

test('ancestors: root-owned and not writable by others, unless sticky', () => {
  assert.equal(judgeAncestor('/tmp', { mode: DIR | 0o1777, uid: 0 }, 0), undefined);
  assert.match(judgeAncestor('/srv/share', { mode: DIR | 0o777, uid: 0 }, 0)?.fix ?? '', /chmod go-w \/srv\/share/);
  assert.match(judgeAncestor('/home/eve', { mode: DIR | 0o755, uid: 1001 }, 0)?.problem ?? '', /owned by uid 1001/);
  assert.equal(judgeAncestor('/var/run', { mode: LINK | 0o777, uid: 0 }, 0), undefined);
  assert.ok(judgeAncestor('/var/run', { mode: LINK | 0o777, uid: 1001 }, 0));
  assert.deepEqual(ancestorsOf('/var/lib/nfknock/pending-closes.json'), ['/', '/var', '/var/lib', '/var/lib/nfknock']);
});

test('general syslog files are no KernelLog; the dedicated file is', () => {
  for (const path of ['/var/log/kern.log', '/var/log/syslog', '/var/log/messages', '/var/log/kern.log.1']) assert.ok(sharedKernelLogProblem(path), path);
  assert.equal(sharedKernelLogProblem('/var/log/nfknock/kernel.log'), undefined);
});

test('property: the verdict depends on mode and owner only as the rules say', () => {
  fc.assert(
    fc.property(fc.constantFrom(...KINDS), fc.integer({ min: 0, max: 0o7777 }), fc.constantFrom(0, 1000, 1001), fc.constantFrom(0, 1000), (kind, permissions, uid, daemon) => {
      const type = kind === 'state-dir' ? DIR : FILE;
      const problem = judgeOpened('/x', kind, { mode: type | permissions, uid }, daemon);
      const ownerOk = uid === daemon || (kind !== 'state-dir' && kind !== 'state-file' && uid === 0);
      const forbidden = ['secret', 'one-time', 'kernel-log'].includes(kind) ? 0o077 : 0o022;
      assert.equal(problem === undefined, ownerOk && (permissions & forbidden) === 0);
      if (problem) assert.ok(problem.fix.length > 0 && problem.problem.includes('/x'));
    }),
  );
});

test('LogFile and PidFile: one link only; their directories, like the KernelLog\'s, may be group-writable (Ubuntu\'s /var/log)', () => {
  assert.match(judgeOpened('/var/log/knockd.log', 'log-file', { mode: FILE | 0o640, uid: 0, nlink: 2 }, 0)?.problem ?? '', /2 hard links/);
  assert.equal(judgeOpened('/var/log/knockd.log', 'log-file', { mode: FILE | 0o640, uid: 0, nlink: 1 }, 0), undefined);
  const ubuntuVarLog = { mode: DIR | 0o775, uid: 0 };
  assert.equal(judgeAncestor('/var/log', ubuntuVarLog, 0, true), undefined);
  assert.ok(judgeAncestor('/var/log', ubuntuVarLog, 0, false), 'not for configs, secrets or the state dir');
  assert.ok(judgeAncestor('/srv/open', { mode: DIR | 0o777, uid: 0 }, 0, true), 'world-writable never');
});
