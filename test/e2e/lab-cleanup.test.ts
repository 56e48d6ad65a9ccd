/**
 * Nothing a lab creates may outlive it: not on destroy(), not when the test process exits early or is
 * signalled, and a lab whose process was SIGKILLed is swept by the next one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createLab, e2eGate, sweepStaleLabs, waitFor, waitForOutput, withNfLogAllNetns } from '../helpers/lab.js';

const gate = e2eGate();
const netnsModule = new URL('../../scripts/lib/netns.js', import.meta.url).href;

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Zombies count as dead: killed, only not reaped yet by whoever inherited them. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function assertDies(pid: number, what: string): Promise<void> {
  await waitFor(() => !isAlive(pid), { timeoutMs: 3000, description: `${what} (pid ${pid}) to die` });
}

function pidsIn(output: string): number[] {
  return output.split(/\s+/).filter(Boolean).map(Number);
}

test('destroy kills spawned process groups and strays, deletes both namespaces, and is idempotent', { skip: gate.skip }, async () => {
  const lab = await createLab({ name: 'nfkf' });
  assert.ok(namespaces().includes(lab.serverNamespace));
  assert.ok(namespaces().includes(lab.clientNamespace));
  // A grandchild in the spawned group, and a process that escaped into its own session.
  const child = lab.spawn('server', ['sh', '-c', 'sleep 300 & echo grandchild $!; wait']);
  const [, grandchild] = await waitForOutput(child, /grandchild (\d+)/, 5000);
  await lab.exec('client', ['sh', '-c', 'setsid sleep 300 >/dev/null 2>&1 < /dev/null &']);
  const strays = await waitFor(
    () => {
      const pids = pidsIn(execFileSync('ip', ['netns', 'pids', lab.clientNamespace], { encoding: 'utf8' }));
      return pids.length > 0 ? pids : undefined;
    },
    { description: 'the setsid sleep to start' },
  );
  await Promise.all([lab.destroy(), lab.destroy()]);
  await lab.destroy();
  assert.ok(!namespaces().includes(lab.serverNamespace));
  assert.ok(!namespaces().includes(lab.clientNamespace));
  assert.equal(isAlive(child.pid ?? 0), false, 'spawned leader');
  await assertDies(Number(grandchild), 'grandchild in the same group');
  for (const pid of strays) await assertDies(pid, 'process that left the group');
});

for (const ending of ['exit', 'SIGTERM', 'SIGINT', 'throw'] as const) {
  test(`a test process that ends by ${ending} leaves no namespace behind`, { skip: gate.skip }, async () => {
    const script = [
      `const { createLab } = await import(${JSON.stringify(netnsModule)});`,
      "const lab = await createLab({ name: 'nfkf' });",
      "lab.spawn('server', ['sleep', '300']);",
      'console.log(JSON.stringify([lab.serverNamespace, lab.clientNamespace]));',
      // Hold on until the parent has seen the namespaces, then end as told.
      "await new Promise((resolve) => process.stdin.once('data', resolve));",
      ending === 'exit' ? 'process.exit(3);' : ending === 'throw' ? "throw new Error('test failed');" : 'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const names = await waitFor(() => (output.includes(']') ? (JSON.parse(output) as string[]) : undefined), {
      timeoutMs: 10_000,
      description: 'the child lab',
    });
    assert.ok(names.every((name) => namespaces().includes(name)));
    if (ending === 'SIGTERM' || ending === 'SIGINT') child.kill(ending);
    else child.stdin.end('go\n');
    await exited;
    assert.deepEqual(names.filter((name) => namespaces().includes(name)), []);
  });
}

test('a lab whose process was SIGKILLed is swept', { skip: gate.skip }, async () => {
  const script = [
    `const { createLab } = await import(${JSON.stringify(netnsModule)});`,
    "const lab = await createLab({ name: 'nfkf' });",
    'console.log(JSON.stringify([lab.serverNamespace, lab.clientNamespace]));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const names = await waitFor(() => (output.includes(']') ? (JSON.parse(output) as string[]) : undefined), { timeoutMs: 10_000 });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  assert.ok(names.every((name) => namespaces().includes(name)), 'SIGKILL cannot clean up');
  sweepStaleLabs();
  assert.deepEqual(names.filter((name) => namespaces().includes(name)), []);
});

test('withNfLogAllNetns sets the sysctl and the last holder restores the old value', { skip: gate.skip }, () => {
  const sysctl = '/proc/sys/net/netfilter/nf_log_all_netns';
  const read = () => readFileSync(sysctl, 'utf8').trim();
  const before = read();
  const restoreFirst = withNfLogAllNetns();
  const restoreSecond = withNfLogAllNetns();
  try {
    assert.equal(read(), '1');
    restoreFirst();
    assert.equal(read(), '1', 'another holder still needs it');
  } finally {
    restoreFirst();
    restoreSecond();
  }
  assert.equal(read(), before);
});
