/**
 * Runs a firewall tool (iptables-save, nft, ipset...) without a shell, `input` on its stdin, and
 * resolves with its whole stdout: a saved ruleset can be megabytes. Not installed -> NFK_MISSING_TOOL;
 * a non-zero exit -> NFK_COMMAND_FAILED with the end of its stderr.
 */
import { spawn } from 'node:child_process';
import { ErrorCodes, NfknockError } from '../core/errors.js';

const TOOL_TIMEOUT_MS = 60_000;
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs a firewall tool with `input` on stdin; its whole stdout (a saved ruleset) comes back. */
export function runFirewallTool(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PATH: TOOL_PATH }, timeout: TOOL_TIMEOUT_MS });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-4096)));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new NfknockError(ErrorCodes.MISSING_TOOL, `${argv[0] as string} is not installed`) : error);
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new NfknockError(ErrorCodes.COMMAND_FAILED, `${argv.join(' ')} failed (${signal ?? `status ${String(code)}`}): ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined); // the tool may exit without reading
    child.stdin.end(input ?? '');
  });
}
