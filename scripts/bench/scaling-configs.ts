import { rng } from './workload.js';

/**
 * knockd.conf files of any size for the scaling benches. 'distinct': doors with their own first knocks,
 * a start and a stop command each. 'open-close-pairs': knockd's classic style, one door opening with
 * -A and another closing with -D, no stop_command (what `check` must pair up).
 */
export function configText(doors: number, shape: { sequences: 'distinct' | 'open-close-pairs' }): string {
  const sections: string[] = [];
  for (let i = 0; i < doors; i++) {
    const a = 10000 + i;
    const steps = [`${a}:tcp`, `${((a * 7) % 50000) + 1000}:udp`, `${((a * 13) % 50000) + 1000}:tcp`];
    const port = (i % 60000) + 1;
    if (shape.sequences === 'distinct') {
      sections.push(
        `[door${i}]\n    sequence = ${steps.join(',')}\n    seq_timeout = 5\n    tcpflags = syn\n` +
          `    start_command = iptables -I INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT\n    cmd_timeout = 10\n` +
          `    stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT\n`,
      );
    } else {
      const pair = i >> 1;
      const opening = (i & 1) === 0;
      sections.push(
        `[${opening ? 'open' : 'close'}${pair}]\n    sequence = ${(opening ? steps : [...steps].reverse()).join(',')}\n    tcpflags = syn\n` +
          `    command = /sbin/iptables ${opening ? '-A' : '-D'} INPUT -s %IP% -p tcp --dport ${(pair % 60000) + 1} -j ACCEPT\n`,
      );
    }
  }
  return `[options]\n    UseSyslog\n\n${sections.join('\n')}`;
}

/** A One_Time_Sequences file of `lines` random three-knock sequences. */
export function oneTimeText(lines: number): string {
  const next = rng(0x0e71);
  const port = () => 1 + (next() % 65535);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(`${port()}:tcp,${port()}:udp,${port()}:tcp`);
  return `${out.join('\n')}\n`;
}
