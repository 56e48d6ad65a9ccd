import type { Door, KnockEvent, KnockStep, Protocol } from '../../src/core/types.js';
import { TcpFlag } from '../../src/core/types.js';

/** `'7000:udp,8000,9000:udp'` → steps, the way knockd.conf writes them. */
export function steps(text: string): KnockStep[] {
  return text.split(',').map((part) => {
    const [port, protocol = 'tcp'] = part.trim().split(':');
    return { port: Number(port), protocol: protocol as Protocol };
  });
}

export function makeDoor(overrides: Partial<Door> & { name?: string; sequence?: string } = {}): Door {
  const { sequence, ...rest } = overrides;
  return {
    name: 'door',
    steps: steps(sequence ?? '7000:udp,8000:tcp,9000:udp'),
    seqTimeoutMs: 5000,
    tcpFlags: { required: 0, forbidden: 0 },
    startCommand: 'iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    stopCommand: 'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    cmdTimeoutMs: 10000,
    line: 1,
    keyLines: {},
    ...rest,
  };
}

/** A knock from `source` at `at` ms: `knock('10.0.0.2', '8000:tcp', 100)`. */
export function knock(source: string, step: string, at: number, tcpFlags?: number): KnockEvent {
  const [only] = steps(step);
  const protocol = only!.protocol;
  return {
    source,
    family: source.includes(':') ? 6 : 4,
    destination: source.includes(':') ? 'fd00::1' : '10.0.0.1',
    protocol,
    port: only!.port,
    tcpFlags: tcpFlags ?? (protocol === 'tcp' ? TcpFlag.SYN : 0),
    at,
  };
}
