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
 * Default DROP with loopback and established flows accepted; each knock port is marked with NFLOG
 * (which does not terminate, so the knock itself is still dropped: a scanner sees nothing).
 */
export function demoFirewall(door: DemoDoor): string {
  const knockRules = door.steps.map((step) => {
    const [port, protocol] = step.split(':');
    return `-A INPUT -p ${protocol} --dport ${port} -j NFLOG --nflog-group ${door.nflogGroup} --nflog-prefix ${door.prefix}`;
  });
  return [
    '*filter',
    ':INPUT DROP [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    ...knockRules,
    'COMMIT',
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
