import v8 from 'node:v8';

export interface GcTotals {
  allocated: number;
  scavenges: number;
  markSweeps: number;
}

/** Runs `body` under a GCProfiler and returns bytes allocated in V8's heap meanwhile. */
export function measureAllocation(body: () => void): GcTotals {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  body();
  const after = v8.getHeapStatistics().used_heap_size;
  const stats = profiler.stop();
  let freed = 0;
  let scavenges = 0;
  let markSweeps = 0;
  for (const entry of stats?.statistics ?? []) {
    freed += entry.beforeGC.heapStatistics.usedHeapSize - entry.afterGC.heapStatistics.usedHeapSize;
    if (entry.gcType === 'Scavenge' || entry.gcType === 'MinorMarkSweep') scavenges++;
    else markSweeps++;
  }
  return { allocated: after - before + freed, scavenges, markSweeps };
}

/** Shifts every NFULA_TIMESTAMP of the pool by `seconds`, so repeated passes keep time moving forward. */
export function shiftTimestamps(batches: Buffer[], seconds: number): void {
  for (const batch of batches) {
    let offset = 0;
    const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    while (offset + 16 <= batch.length) {
      const length = little ? batch.readUInt32LE(offset) : batch.readUInt32BE(offset);
      const type = little ? batch.readUInt16LE(offset + 4) : batch.readUInt16BE(offset + 4);
      if (type === 0x400) {
        let p = offset + 20;
        while (p + 4 <= offset + length) {
          const attrLength = little ? batch.readUInt16LE(p) : batch.readUInt16BE(p);
          const attrType = little ? batch.readUInt16LE(p + 2) : batch.readUInt16BE(p + 2);
          if (attrType === 3) batch.writeUInt32BE(batch.readUInt32BE(p + 8) + seconds, p + 8);
          p += (attrLength + 3) & ~3;
        }
      }
      offset += (length + 3) & ~3;
    }
  }
}
