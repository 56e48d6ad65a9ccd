import { defaultOptions, type Config, type Door, type KnockStep, type Protocol } from '../../src/core/types.js';

/** `steps('7000', '8000:udp')` -> knock steps; protocol defaults to tcp, as in knockd.conf. */
export function steps(...specs: string[]): KnockStep[] {
  return specs.map((spec) => {
    const [port, protocol = 'tcp'] = spec.split(':');
    return { port: Number(port), protocol: protocol as Protocol };
  });
}

/** A door as the config parser would build it, with knockd's defaults; override what the test is about. */
export function door(overrides: Partial<Door> & { name?: string } = {}): Door {
  return {
    name: 'openSSH',
    steps: steps('7000', '8000', '9000'),
    seqTimeoutMs: 5000,
    tcpFlags: { required: 0, forbidden: 0 },
    startCommand: '/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    stopCommand: '/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    cmdTimeoutMs: 10000,
    line: 1,
    keyLines: {},
    ...overrides,
  };
}

export function config(doors: Door[], file = '/etc/knockd.conf'): Config {
  return { file, options: { ...defaultOptions }, doors };
}
