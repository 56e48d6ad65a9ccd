#!/usr/bin/env node
import '../daemon/early-hangups.js';
import { Command } from 'commander';
import type { DaemonFlags } from '../daemon/options.js';
import { runCli } from './run-cli.js';
import { packageVersion } from './version.js';

const program = new Command('nfknockd')
  .description('port-knock server reading knocks from netfilter (NFLOG or the kernel log): no packet sniffing')
  .version(packageVersion(), '-V, --version', 'display the version')
  .helpOption('-h, --help', 'this help text')
  .option('-c, --config <file>', 'use an alternate config file', '/etc/knockd.conf')
  .option('-i, --interface <int>', 'only knocks that came in on this interface (default: any)')
  .option('-d, --daemon', 'accepted for knockd compatibility; nfknockd stays in the foreground (use systemd)')
  .option('-v, --verbose', 'be verbose: knockd-style lines on the structured log too')
  .option('-D, --debug', 'output debug messages, with the reason for every dropped input')
  .option('-g, --logfile <file>', 'write knockd-format lines to this file (overrides LogFile)')
  .option('-p, --pidfile <file>', 'write the pid to this file (overrides PidFile)')
  .option('-4, --only-ip-v4', 'ignore IPv6 knocks')
  .option('--source <kind>', 'where knocks come from: nflog, kmsg or file (default nflog, or Source)')
  .option('--nflog-group <n>', 'NFLOG group to bind (default 5, or NflogGroup)')
  .option('--prefix <text>', 'log prefix of the knock rules (default portknock, or LogPrefix)')
  .option('--state-dir <dir>', 'where pending closes are kept (default /var/lib/nfknock, or StateDir)')
  .option('--kernel-log <path>', 'kernel log file to follow with --source file (or KernelLog)')
  .option('--max-attempts <n>', 'cap on knock attempts in progress (default 65536, or MaxAttempts)')
  .option('--command-timeout <seconds>', 'kill a door command still running after this long (default 60)')
  .option('--syslog-socket <path>', 'with UseSyslog: the syslog daemon\'s socket (default /dev/log)')
  .option('--metrics-file <path>', 'write Prometheus metrics here for node_exporter\'s textfile collector (or MetricsFile), e.g. /var/lib/prometheus/node-exporter/nfknock.prom')
  .option('--stats-file <path>', 'where `nfknock status --stats` reads the live figures (default /run/nfknock/stats.json, or StatsFile)')
  .option('--syslog-tag <tag>', 'with UseSyslog: the tag of syslog lines (default nfknockd, or SyslogTag; knockd keeps old log rules matching)')
  .option('--syslog-facility <name>', 'with UseSyslog: the facility, e.g. user, daemon, auth, authpriv, local0-local7 (default user, or SyslogFacility)')
  .option('--allow-netns-log', 'with --source kmsg|file: run even though nf_log_all_netns is 1 (only where every network namespace is trusted)')
  .option('--accept-shared-kernel-log', 'with --source file: accept a KernelLog other writers share (kern.log, syslog): local users can forge knocks there; warned at every start')
  .option('--close-recorded', 'run the stop command of every door the state dir records, then exit (the package does this on removal, after stopping the daemon)')
  .option('--firewall <kind>', 'kernel sets that Open = doors use: nft or ipset (default nft, or Firewall)')
  .option('--close-on-exit', 'run the stop command of every open door when stopping, instead of closing them on time at the next start')
  .action(async (flags: DaemonFlags) => {
    // Loaded only to run, node:v8 included: --help and --version load commander and little else (BENCHMARKS.md).
    const { setFlagsFromString } = await import('node:v8');
    // Under a spoofed flood V8 lets the old generation grow to several times the live heap before a full
    // GC (237 MB peak RSS for ~20 MB live). A smaller growing factor collects sooner; it caps nothing, so
    // it cannot make the daemon run out of memory (BENCHMARKS.md has the flood measured with it).
    setFlagsFromString('--heap-growing-percent=20');
    const { runDaemon } = await import('../daemon/main.js');
    // Exit explicitly: a command still running or a stuck handle must not keep a stopped daemon alive.
    process.exit(await runDaemon(flags));
  });

await runCli(program);
