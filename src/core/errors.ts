/**
 * One error class for the whole project. Codes are stable strings: tests, logs and the CLI's exit
 * statuses depend on them, so a code is never renamed, only added.
 */
export const ErrorCodes = {
  USAGE: 'NFK_USAGE',
  CONFIG_SYNTAX: 'NFK_CONFIG_SYNTAX',
  CONFIG_INVALID: 'NFK_CONFIG_INVALID',
  CONFIG_READ: 'NFK_CONFIG_READ',
  PERMISSION: 'NFK_PERMISSION',
  SOURCE_UNAVAILABLE: 'NFK_SOURCE_UNAVAILABLE',
  SOURCE_FAILED: 'NFK_SOURCE_FAILED',
  STATE_CORRUPT: 'NFK_STATE_CORRUPT',
  STATE_IO: 'NFK_STATE_IO',
  COMMAND_FAILED: 'NFK_COMMAND_FAILED',
  CLIENT: 'NFK_CLIENT',
  /** `nfknock connect`: the port did not accept a connection in time after the knock. */
  CONNECT_TIMEOUT: 'NFK_CONNECT_TIMEOUT',
  MISSING_TOOL: 'NFK_MISSING_TOOL',
  FIREWALL_UNAVAILABLE: 'NFK_FIREWALL_UNAVAILABLE',
  INTERNAL: 'NFK_INTERNAL',
  /** A file or directory the daemon would trust is open to others (owner, mode, symlink, ancestor). */
  UNTRUSTED: 'NFK_UNTRUSTED',
  /** `nfknock apply`: the rules file was refused (unknown type, or the tool's own test failed); nothing changed. */
  RULES_REJECTED: 'NFK_RULES_REJECTED',
  /** `nfknock apply`: another apply still waits for its confirmation. */
  APPLY_BUSY: 'NFK_APPLY_BUSY',
  /** `nfknock apply --confirm`: too late, the previous ruleset was restored. */
  APPLY_ROLLED_BACK: 'NFK_APPLY_ROLLED_BACK',
  /** `nfknock apply --confirm`: no apply waits for confirmation. */
  APPLY_NOTHING_PENDING: 'NFK_APPLY_NOTHING_PENDING',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ErrorLocation {
  file?: string;
  line?: number;
  /** The offending text, quoted back to the user. */
  text?: string;
}

export class NfknockError extends Error {
  override readonly name = 'NfknockError';
  readonly code: ErrorCode;
  readonly location: ErrorLocation | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; location?: ErrorLocation }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.location = options?.location;
  }

  /** `file:line: message: "text"` — the shape compilers use, so editors can jump to it. */
  describe(): string {
    const loc = this.location;
    if (!loc) return this.message;
    const where = [loc.file, loc.line].filter((part) => part !== undefined).join(':');
    const quoted = loc.text === undefined ? '' : `: ${JSON.stringify(loc.text)}`;
    return `${where ? `${where}: ` : ''}${this.message}${quoted}`;
  }
}

export function isNfknockError(value: unknown): value is NfknockError {
  return value instanceof NfknockError;
}

/** sysexits(3) statuses, so shell scripts and systemd can tell a bad config from a missing capability. */
export const exitStatusByCode: Record<ErrorCode, number> = {
  NFK_USAGE: 64,
  NFK_CONFIG_SYNTAX: 78,
  NFK_CONFIG_INVALID: 78,
  NFK_CONFIG_READ: 66,
  NFK_PERMISSION: 77,
  NFK_SOURCE_UNAVAILABLE: 69,
  NFK_SOURCE_FAILED: 69,
  NFK_STATE_CORRUPT: 65,
  NFK_STATE_IO: 74,
  NFK_COMMAND_FAILED: 71,
  NFK_CLIENT: 68,
  NFK_CONNECT_TIMEOUT: 75,
  NFK_MISSING_TOOL: 69,
  NFK_FIREWALL_UNAVAILABLE: 69,
  NFK_INTERNAL: 70,
  NFK_UNTRUSTED: 77,
  NFK_RULES_REJECTED: 65,
  NFK_APPLY_BUSY: 73,
  NFK_APPLY_ROLLED_BACK: 75,
  NFK_APPLY_NOTHING_PENDING: 66,
};

export function exitStatusFor(error: unknown): number {
  return isNfknockError(error) ? exitStatusByCode[error.code] : 70;
}
