#!/usr/bin/env node
/**
 * `ExecReload=` of nfknockd.service: SIGHUP to the daemon, then wait for its verdict, so that
 * `systemctl reload nfknockd` fails, with the daemon's reason, when the new config is refused
 * (src/daemon/service-manager.ts says why this is not Type=notify-reload).
 */
import { readReloadVerdict } from '../daemon/service-manager.js';

const WAIT_MS = 60_000;

async function main(argv: string[]): Promise<number> {
  const pid = Number(argv[0]);
  if (argv.length !== 1 || !Number.isSafeInteger(pid) || pid <= 1) {
    process.stderr.write('usage: nfknockd-reload MAINPID (as ExecReload=nfknockd-reload $MAINPID)\n');
    return 64;
  }
  const directory = process.env['RUNTIME_DIRECTORY']?.split(':')[0];
  const before = directory === undefined ? undefined : await readReloadVerdict(directory);
  process.kill(pid, 'SIGHUP');
  if (directory === undefined) return 0;
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const verdict = await readReloadVerdict(directory);
    if (verdict && verdict.generation !== before?.generation) {
      (verdict.ok ? process.stdout : process.stderr).write(`nfknockd: ${verdict.message}\n`);
      return verdict.ok ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.stderr.write(`nfknockd-reload: no verdict from nfknockd (pid ${pid}) within ${WAIT_MS / 1000} s\n`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
