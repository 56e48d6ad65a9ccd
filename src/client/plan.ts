import { ErrorCodes, NfknockError } from '../core/errors.js';
import type { KnockStep, TimeSequenceSpec } from '../core/types.js';
import { timeSequenceDefaults, timeSequenceProblem } from '../timeseq/derive.js';
import type { SecretCommandOptions } from '../timeseq/secret-command.js';
import type { ClientHost, FamilyChoice } from './client-config.js';
import { forceUdp, parseKnockTargets } from './targets.js';

/** The flags `knock`, `connect` and `sequence` share, as commander hands them over (already parsed); the time-based ones are `nfknock secret`'s. */
export interface KnockFlags extends Partial<Pick<SecretCommandOptions, 'door' | 'period' | 'length' | 'ports' | 'protocols'>> {
  udp?: boolean;
  delay?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  allFamilies?: boolean;
  verbose?: boolean;
  /** `-F FILE`: the client config holding host aliases. */
  config?: string;
  secret?: string;
  secretEnv?: string;
}

export type SecretSource = { kind: 'file'; path: string } | { kind: 'env'; name: string } | { kind: 'loaded'; bytes: Uint8Array };

export type PlannedSequence =
  | { kind: 'fixed'; steps: KnockStep[] }
  | { kind: 'time'; door: string; spec: Omit<TimeSequenceSpec, 'secret' | 'secretFile'>; secret: SecretSource };

/** Everything a knock needs, decided from the arguments and the alias before any packet or file. */
export interface KnockPlan {
  host: string;
  families: FamilyChoice;
  delayMs: number;
  sequence: PlannedSequence;
  /** `PORT:tcp` arguments that `-u` turns into UDP knocks (knock(1) does the same; the CLI warns). */
  overriddenByUdp: string[];
}

const TIME_FLAGS = ['door', 'period', 'length', 'ports', 'protocols'] as const;
const SEQUENCE_FLAGS = ['udp', 'secret', 'secretEnv', ...TIME_FLAGS] as const;
const FLAG_NAMES: Record<(typeof SEQUENCE_FLAGS)[number], string> = {
  udp: '-u',
  secret: '--secret',
  secretEnv: '--secret-env',
  door: '--door',
  period: '--period',
  length: '--length',
  ports: '--ports',
  protocols: '--protocols',
};

/** `-4 -6` (written `-46`) and `--all-families` both mean every family the name has. */
export function familiesFrom(flags: KnockFlags): FamilyChoice | undefined {
  if (flags.allFamilies && flags.ipv4 !== flags.ipv6) {
    throw new NfknockError(ErrorCodes.USAGE, `--all-families knocks over IPv4 and IPv6; drop ${flags.ipv4 ? '-4' : '-6'}`);
  }
  if (flags.allFamilies || (flags.ipv4 && flags.ipv6)) return 'both';
  return flags.ipv4 ? 4 : flags.ipv6 ? 6 : undefined;
}

/** Pure: the knock the arguments describe, with an alias from the client config when `host` names one. */
export function planKnock(host: string, ports: string[], flags: KnockFlags, alias?: ClientHost): KnockPlan {
  const families = familiesFrom(flags);
  if (alias) {
    const stray = [...(ports.length > 0 ? [ports.join(' ')] : []), ...SEQUENCE_FLAGS.filter((flag) => flags[flag] !== undefined).map((flag) => FLAG_NAMES[flag])];
    if (stray.length > 0) {
      throw new NfknockError(ErrorCodes.USAGE, `${alias.name} is an alias whose sequence the client config gives (line ${alias.line}); remove ${stray.join(', ')}`);
    }
    return { host: alias.address, families: families ?? alias.family ?? 'first', delayMs: flags.delay ?? alias.delayMs ?? 0, sequence: aliasSequence(alias), overriddenByUdp: [] };
  }
  const timed = flags.secret !== undefined || flags.secretEnv !== undefined;
  const base = { host, families: families ?? 'first', delayMs: flags.delay ?? 0 };
  if (timed) return { ...base, sequence: timeSequenceFromFlags(ports, flags), overriddenByUdp: [] };
  const stray = TIME_FLAGS.filter((flag) => flags[flag] !== undefined);
  if (stray.length > 0) {
    throw new NfknockError(ErrorCodes.USAGE, `--${stray.join(', --')} ${stray.length === 1 ? 'makes' : 'make'} sense only with --secret or --secret-env`);
  }
  if (ports.length === 0) {
    throw new NfknockError(ErrorCodes.USAGE, `no ports to knock on: give at least one PORT[:tcp|udp], or --secret and --door, or an alias of the client config`);
  }
  if (!flags.udp) return { ...base, sequence: { kind: 'fixed', steps: parseKnockTargets(ports, 'tcp') }, overriddenByUdp: [] };
  const { steps, overridden } = forceUdp(ports);
  return { ...base, sequence: { kind: 'fixed', steps }, overriddenByUdp: overridden };
}

function aliasSequence(alias: ClientHost): PlannedSequence {
  const spec = alias.timeSequence;
  if (!spec) return { kind: 'fixed', steps: alias.steps };
  const { secret, secretFile: _file, ...rest } = spec;
  if (!secret) throw new NfknockError(ErrorCodes.INTERNAL, `alias ${alias.name}: the secret was not loaded`);
  return { kind: 'time', door: alias.door, spec: rest, secret: { kind: 'loaded', bytes: secret } };
}

function timeSequenceFromFlags(ports: string[], flags: KnockFlags): PlannedSequence {
  if (flags.secret !== undefined && flags.secretEnv !== undefined) throw new NfknockError(ErrorCodes.USAGE, 'give --secret or --secret-env, not both');
  if (ports.length > 0) throw new NfknockError(ErrorCodes.USAGE, `ports are derived from the secret; remove ${ports.join(' ')}`);
  if (flags.udp) throw new NfknockError(ErrorCodes.USAGE, '-u cannot be used with a secret; use --protocols udp');
  const door = flags.door;
  if (door === undefined || door === '') throw new NfknockError(ErrorCodes.USAGE, '--door NAME is needed with a secret: the sequence depends on the door name');
  const spec = {
    ...timeSequenceDefaults,
    ...(flags.ports ?? {}),
    ...(flags.period === undefined ? {} : { periodSeconds: flags.period }),
    ...(flags.length === undefined ? {} : { length: flags.length }),
    ...(flags.protocols === undefined ? {} : { protocols: flags.protocols }),
  };
  const problem = timeSequenceProblem(spec);
  if (problem) throw new NfknockError(ErrorCodes.USAGE, problem);
  const secret: SecretSource = flags.secretEnv !== undefined ? { kind: 'env', name: flags.secretEnv } : { kind: 'file', path: flags.secret as string };
  return { kind: 'time', door, spec, secret };
}

/** Whole seconds until the step holding `epochMs` ends (1..period): how long a derived sequence stays current. */
export function secondsLeftInStep(epochMs: number, periodSeconds: number, step: number): number {
  return Math.ceil(((step + 1) * periodSeconds * 1000 - epochMs) / 1000);
}
