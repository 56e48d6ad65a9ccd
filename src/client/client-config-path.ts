import { join } from 'node:path';

/** `$XDG_CONFIG_HOME/nfknock/client.conf`, else `~/.config/nfknock/client.conf`; relative values are ignored, as the XDG spec says. */
export function defaultClientConfigPath(env: Record<string, string | undefined>): string | undefined {
  const xdg = env['XDG_CONFIG_HOME'];
  const home = env['HOME'];
  const base = xdg?.startsWith('/') ? xdg : home?.startsWith('/') ? join(home, '.config') : undefined;
  return base === undefined ? undefined : join(base, 'nfknock', 'client.conf');
}
