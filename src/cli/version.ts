import { readFileSync } from 'node:fs';

/** Read once from package.json, which ships beside dist/ in every install. */
export function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
