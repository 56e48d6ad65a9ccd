/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) as the functions with the most self time.
 *
 *   node profile-summary.js FILE.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileLine {
  percent: number;
  name: string;
  where: string;
}

export function summariseProfile(path: string, top = 15): ProfileLine[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByName = new Map<string, number>();
  for (const sample of profile.samples) {
    const node = byId.get(sample);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(src|scripts|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}\t${where}`;
    selfByName.set(key, (selfByName.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  return [...selfByName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, count]) => {
      const [name = '', where = ''] = key.split('\t');
      return { percent: Math.round((count / total) * 1000) / 10, name, where };
    });
}

if (process.argv[1]?.endsWith('profile-summary.js') && process.argv[2]) {
  for (const line of summariseProfile(process.argv[2], Number(process.argv[3] ?? 20))) {
    console.log(`${line.percent.toFixed(1).padStart(5)}%  ${line.name}  ${line.where}`);
  }
}
