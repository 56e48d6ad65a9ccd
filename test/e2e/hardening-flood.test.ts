import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLab, e2eGate, sleep } from '../helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, removeDir, startDaemon, waitForProbe } from '../helpers/daemon-lab.js';
import { SEED, countOf, exitOf, nodePidOf, rssKiB, serviceDoor, signalDaemon, waitForLog, waitForOutputText } from '../helpers/hardening-lab.js';

const gate = e2eGate({ tools: ['hping3', 'timeout'] });

/**
 * Measured: RSS rises ~35 MiB in the first 2 s of a 20 000 packets/s flood (heap growth under load),
 * then oscillates around that plateau for the rest of it.
 */
const RSS_GROWTH_LIMIT_KIB = 96 * 1024;
const PLATEAU_SLACK_KIB = 24 * 1024;

test('a flood of spoofed first knocks keeps RSS bounded and a real knock still opens the door', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  const lab = await createLab({ name: 'nfkj-flood' });
  t.after(() => lab.destroy());
  const conf = serviceDoor('openSSH', SEED.join(','), { cmdTimeout: 2 });
  await loadGeneratedFirewall(lab, conf, { family: 4 });
  await lab.startTcpService(SERVICE_PORT, 4);
  const daemon = await startDaemon(lab, conf, ['--max-attempts', '1000']);
  t.after(async () => {
    await daemon.stop();
    await removeDir(daemon.dir);
  });
  const pid = await nodePidOf(daemon.child);
  await sleep(500);
  const rssBefore = await rssKiB(pid);

  // Every packet is a valid first knock (7000/udp) from a new random source: each one starts an attempt.
  const flood = lab.exec('client', ['timeout', '20', 'hping3', '-q', '--rand-source', '--udp', '-p', '7000', '-i', 'u20', '-c', '250000', lab.serverAddress(4)], {
    timeoutMs: 25_000,
  });
  let flooding = true;
  const samples: number[] = [];
  const watch = (async () => {
    while (flooding) {
      samples.push(await rssKiB(pid));
      await sleep(200);
    }
  })();
  await sleep(3000);
  await knockWithNfknock(lab, 4, SEED);
  await waitForProbe(lab, 4, 'open', 3000);
  const result = await flood;
  flooding = false;
  await watch;
  // hping3 exits 1 when nothing answers (nothing does: the firewall drops the knocks); count what it sent.
  const sent = Number(/(\d+) packets transmitted/.exec(result.stdout + result.stderr)?.[1] ?? 0);
  assert.ok(sent >= 20_000, `hping3 sent ${sent} packets (exit ${result.code}): ${result.stderr}`);
  const half = Math.floor(samples.length / 2);
  const firstPeak = Math.max(...samples.slice(0, half));
  const secondPeak = Math.max(...samples.slice(half));
  t.diagnostic(`${sent} spoofed knocks; RSS before ${rssBefore} KiB, peak of the first half ${firstPeak}, of the second ${secondPeak}; samples ${samples.join(' ')}`);
  // Bounded: the heap settles once the attempts table is full; the second half of the flood adds no trend.
  assert.ok(secondPeak - firstPeak < PLATEAU_SLACK_KIB, `RSS still growing: first half peak ${firstPeak} KiB, second half ${secondPeak} KiB`);
  assert.ok(secondPeak - rssBefore < RSS_GROWTH_LIMIT_KIB, `RSS grew from ${rssBefore} to ${secondPeak} KiB`);

  // The flood really reached the matcher: attempts were evicted at the cap (counted at shutdown).
  const log = await waitForLog(daemon, 'openSSH: OPEN SESAME');
  assert.ok(countOf(log, ': openSSH: Stage 1') > 10 || /suppressed \d+ stage lines/.test(log), 'spoofed knocks reached the daemon');
  await signalDaemon(daemon, 'SIGTERM');
  await exitOf(daemon.child, 3000);
  const stopping = await waitForOutputText(daemon, /"msg":"stopping"/);
  const counters = JSON.parse(stopping.split('\n').find((line) => line.includes('"msg":"stopping"')) as string) as { counters: Record<string, unknown> };
  t.diagnostic(`counters at exit: ${JSON.stringify(counters.counters)}`);
  assert.ok(Number(counters.counters['evictions']) > 1000, `attempts were evicted at the cap: ${JSON.stringify(counters.counters)}`);
});
