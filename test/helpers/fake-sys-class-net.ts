import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory laid out as /sys/class/net for these interfaces (name → ifindex); the caller removes it. */
export function fakeSysClassNet(interfaces: Record<string, number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfkb-net-'));
  for (const [name, index] of Object.entries(interfaces)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'ifindex'), `${index}\n`);
  }
  return dir;
}
