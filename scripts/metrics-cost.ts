/**
 * What the metrics cost: the per-event counter update (on the per-packet path) and one write's
 * snapshot and rendering (every 15 s and after opens and closes, never per packet), for 10 and
 * 1000 doors with half of them open. `npm run build && node dist/scripts/metrics-cost.js`.
 */
import { Counters } from '../src/daemon/counters.js';
import { renderPrometheus } from '../src/metrics/prometheus.js';
import { DoorActivity, takeSnapshot } from '../src/metrics/snapshot.js';
import { renderStats } from '../src/metrics/stats-file.js';

function nsPer(runs: number, work: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) work(i);
  return Number(process.hrtime.bigint() - start) / runs;
}

const counters = new Counters();
nsPer(1e6, (i) => counters.event('nflog', i));
console.log(`Counters.event: ${nsPer(1e7, (i) => counters.event('nflog', i)).toFixed(1)} ns per knock event`);

for (const doors of [10, 1000]) {
  const names = Array.from({ length: doors }, (_, i) => `door-${i}`);
  const activity = new DoorActivity(0);
  for (const door of names) activity.observe(0, { event: 'open', door, source: '10.0.0.2' });
  const openDoors = names.slice(0, doors / 2).map((door, i) => ({ id: String(i), door, source: `10.0.${i >> 8}.${i & 255}`, family: 4 as const, stopCommand: 'true', openedAt: 0, closesAt: 1 }));
  const daemon = { counters: { eventsBySource: new Map([['nflog', 5]]), rejects: new Map([['wrong-prefix', 1]]), overruns: 0, evictions: 0, lastEventAt: 5 }, attemptCount: 3, openDoors };
  let bytes = 0;
  const ns = nsPer(doors === 10 ? 20_000 : 300, () => {
    const snapshot = takeSnapshot(daemon, activity, { version: 'v', pid: 1, startedAt: 0, now: 1, source: 'nflog', configuredDoors: names });
    bytes = renderPrometheus(snapshot).length + renderStats(snapshot).length;
  });
  console.log(`${doors} doors: ${(ns / 1000).toFixed(0)} µs to snapshot and render both files (${bytes} bytes)`);
}
