/** The parts of the man pages that are not options: signals, files, exit statuses (README.md has them too). */
import type { ManSection } from './manpage.js';

const exitStatus: ManSection = {
  title: 'Exit status',
  body: ['Statuses follow sysexits(3): 0 success, 64 usage, 65 bad input data, 66 unreadable config, 69 source or tool unavailable, 70 internal error, 74 state I/O, 77 missing permission (e.g. no CAP_NET_ADMIN for NFLOG), 78 bad config. nfknockd.service does not restart after 64, 65, 66, 77 or 78.'],
};

export const nfknockdSections: ManSection[] = [
  {
    title: 'Description',
    body: [
      'nfknockd is a port-knocking daemon that reads an unchanged knockd.conf. It does not sniff: firewall rules made by nfknock rules log each packet to a knock port with NFLOG (or LOG) and the prefix portknock, and nfknockd reads those events from netlink NFLOG, /dev/kmsg or a file written by rsyslog, rebuilds each source address\'s sequence and runs the door\'s commands.',
      'A pending close is written to the state directory before a start command runs, so after a crash, kill -9 or reboot the next start closes every overdue door. A stop command that fails is retried after 5 s, doubling up to 10 minutes; if the host rebooted or nfknock-firewall.service loaded the rules again since the door opened, a second failure counts the door as closed (its rule is gone).',
      'Run it under systemd: systemctl enable --now nfknockd (after nfknock check -c /etc/knockd.conf).',
    ],
  },
  {
    title: 'Signals',
    body: [
      'SIGHUP re-reads the config (all or nothing: a broken config is refused with its line numbers and the old one keeps running), re-opens the log file and switches source when needed. systemctl reload nfknockd waits for the verdict and fails when the config is refused. SIGTERM and SIGINT stop reading, persist and exit within a second; open doors stay recorded (or close now with --close-on-exit).',
    ],
  },
  exitStatus,
  {
    title: 'Files',
    body: [
      '/etc/knockd.conf: the configuration (knockd\'s format).',
      '/var/lib/nfknock: pending closes and used time steps (StateDir); one-time sequence files the unit must write to (a used line is marked in place) belong here too (/etc is read-only to the unit).',
      '/var/log/nfknock/knockd.log: the recommended LogFile (the unit\'s LogsDirectory, rotated by /etc/logrotate.d/nfknock).',
      '/run/nfknock-firewall/generation: written by nfknock-firewall.service after each load of the rules.',
      '/usr/share/doc/nfknock/deploying.md: deploying on a real host, step by step.',
    ],
  },
];

export const nfknockSections: ManSection[] = [
  {
    title: 'Description',
    body: ['nfknock is the companion tool of nfknockd(8): a knock client compatible with knockd\'s knock, a firewall rule generator, a config checker, an offline replay of a kernel log, the list of open doors, and secrets for time-based sequences.'],
  },
  {
    title: 'Examples',
    body: [
      '  nfknock check -c /etc/knockd.conf\n  nfknock rules -c /etc/knockd.conf --complete > /etc/nfknock/rules.v4\n  nfknock knock server.example 7000:udp 8000:tcp 9000:udp\n  nfknock status',
    ],
  },
  exitStatus,
];
