import { parseConfig } from '../../src/config/parse.js';
import { generateRules } from '../../src/rules/generate.js';
/** The demo's firewall and knockd.conf, as text, so the demo narrates exactly what it loads. */

export interface DemoDoor {
  steps: string[];
  servicePort: number;
  seqTimeoutSeconds: number;
  cmdTimeoutSeconds: number;
  nflogGroup: number;
  prefix: string;
}

export const demoDoor: DemoDoor = {
  steps: ['7000:udp', '8000:tcp', '9000:udp'],
  servicePort: 2222,
  seqTimeoutSeconds: 10,
  cmdTimeoutSeconds: 8,
  nflogGroup: 5,
  prefix: 'portknock',
};

/**
 * The firewall `nfknock rules --complete` makes for the demo's knockd.conf: default DROP, loopback and
 * established flows accepted, each knock port marked with NFLOG (which does not terminate, so the
 * knock itself is still dropped: a scanner sees nothing). The demo loads what users would load.
 */
export function demoFirewall(door: DemoDoor): string {
  const config = parseConfig(demoKnockdConf(door), 'knockd.conf');
  return generateRules(config, { target: 'nflog', group: door.nflogGroup, prefix: door.prefix, family: 4, complete: true, format: 'iptables' });
}

/** nfknockd's own way (issue 13): the complete nft table, whose open4 set the kernel empties by itself. */
export function demoNftFirewall(door: DemoDoor): string {
  const config = parseConfig(demoOpenConf(door), 'knockd.conf');
  return generateRules(config, { target: 'nflog', group: door.nflogGroup, prefix: door.prefix, family: 4, complete: true, format: 'nft' });
}

/** The same door declared with `Open =`: nfknockd adds the knocker to the kernel set with a timeout. */
export function demoOpenConf(door: DemoDoor): string {
  return [
    '[openSSH]',
    `  sequence      = ${door.steps.join(',')}`,
    `  seq_timeout   = ${door.seqTimeoutSeconds}`,
    `  Open          = ${door.servicePort}:tcp`,
    `  cmd_timeout   = ${door.cmdTimeoutSeconds}`,
    '',
  ].join('\n');
}

/** An ordinary knockd.conf, the kind users already have: nfknockd must read it unchanged. */
export function demoKnockdConf(door: DemoDoor): string {
  const rule = (verb: string) => `iptables ${verb} INPUT -s %IP% -p tcp --dport ${door.servicePort} -j ACCEPT`;
  return [
    '[openSSH]',
    `  sequence      = ${door.steps.join(',')}`,
    `  seq_timeout   = ${door.seqTimeoutSeconds}`,
    `  start_command = ${rule('-I')}`,
    `  cmd_timeout   = ${door.cmdTimeoutSeconds}`,
    `  stop_command  = ${rule('-D')}`,
    '',
  ].join('\n');
}
