/**
 * The network-namespace lab for e2e tests (the core lives in scripts/lib/netns.ts, shared with the
 * demo) plus the gate that decides whether an e2e test may run here.
 *
 *   const gate = e2eGate();
 *   test('knock opens the door', { skip: gate.skip }, async (t) => {
 *     const lab = await createLab();
 *     t.after(() => lab.destroy());
 *     ...
 *   });
 */
import { ErrorCodes, NfknockError } from '../../src/core/errors.js';
import { installHint, isRoot, missingTools } from '../../scripts/lib/tools.js';

export {
  createLab,
  outputOf,
  sleep,
  stopProcessGroup,
  sweepStaleLabs,
  waitFor,
  waitForOutput,
  withNfLogAllNetns,
} from '../../scripts/lib/netns.js';
export type {
  ExecOptions,
  ExecResult,
  Lab,
  LabFamily,
  LabOptions,
  LabSide,
  LabSpawnOptions,
  ProbeResult,
  TcpService,
  WaitForOptions,
} from '../../scripts/lib/netns.js';
export { installHint, missingTools, whichTool } from '../../scripts/lib/tools.js';

export const rootSkipReason = 'needs root for network namespaces (run as root, or set NFKNOCK_E2E=required in CI)';

/** Tools every lab needs; tests add their own (knockd, nft, ...) through `tools`. */
export const labTools = ['ip', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore'] as const;

/**
 * `{ skip: false }` when e2e tests can run; otherwise `{ skip: reason }` for node:test. With
 * NFKNOCK_E2E=required (CI) it throws instead, so a CI machine that cannot run them fails loudly
 * rather than passing with everything skipped.
 */
export function e2eGate(options: { tools?: readonly string[] } = {}): { skip: string | false } {
  const required = process.env['NFKNOCK_E2E'] === 'required';
  let reason: string | undefined;
  if (!isRoot()) {
    reason = rootSkipReason;
  } else {
    const missing = missingTools([...labTools, ...(options.tools ?? [])]);
    if (missing.length > 0) reason = `missing system tools: ${missing.join(', ')} (install with: ${installHint(missing)})`;
  }
  if (reason === undefined) return { skip: false };
  if (required) {
    throw new NfknockError(
      isRoot() ? ErrorCodes.MISSING_TOOL : ErrorCodes.PERMISSION,
      `NFKNOCK_E2E=required but this e2e test cannot run: ${reason}`,
    );
  }
  return { skip: reason };
}
