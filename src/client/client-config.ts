/**
 * client.conf -> host aliases, pure. The file has knockd.conf's syntax and is read by the same section
 * reader (src/config/sections.ts): one `[alias]` section per host, keys case-insensitive, whole-line
 * comments. A time-based door's keys are interpreted by the server's own code (interpretTimeSequence),
 * so a client section copied from a door accepts and means exactly what the door does.
 *
 *   [office]
 *       Address  = gw.example.org
 *       Sequence = 7000:udp,8000:tcp,9000:udp
 *       Delay    = 100
 *       Family   = both
 *
 *   [office-rotating]
 *       Address            = gw.example.org
 *       Door               = ssh
 *       Sequence_Secret    = @/home/me/.config/nfknock/ssh.secret
 *       Sequence_Ports     = 20000-29999
 */
import { ErrorCodes } from '../core/errors.js';
import type { Family, KnockStep, TimeSequenceSpec } from '../core/types.js';
import { interpretTimeSequence, type DoorKey, type Invalid } from '../config/parse.js';
import { throwIfAny, type ConfigProblem } from '../config/problems.js';
import { readSections, type ConfigSection, type SectionDialect, type SectionEntry } from '../config/sections.js';
import { parseSequence } from '../config/sequence.js';
import { asciiLower } from '../config/text.js';
import { parseDelay } from './targets.js';

/** Which address families to knock over: knockd's getaddrinfo's first answer, one family, or both. */
export type FamilyChoice = 'first' | Family | 'both';

export interface ClientHost {
  /** The alias, as written in `[alias]`. */
  name: string;
  address: string;
  /** Fixed sequence; empty for a time-based door. */
  steps: KnockStep[];
  timeSequence?: TimeSequenceSpec;
  /** The server's door name the time-based sequence is derived for (default: the alias). */
  door: string;
  delayMs?: number;
  family?: FamilyChoice;
  /** Line of the `[alias]` header and of each key, for messages (and the secret loader). */
  line: number;
  keyLines: Record<string, number>;
}

export interface ClientConfig {
  file: string;
  hosts: Map<string, ClientHost>;
}

type ClientKey = 'address' | 'sequence' | 'door' | 'delay' | 'family' | Extract<DoorKey, `sequence_${string}`>;

const KEY_NAMES: Record<ClientKey, string> = {
  address: 'Address',
  sequence: 'Sequence',
  door: 'Door',
  delay: 'Delay',
  family: 'Family',
  sequence_secret: 'Sequence_Secret',
  sequence_length: 'Sequence_Length',
  sequence_ports: 'Sequence_Ports',
  sequence_period: 'Sequence_Period',
  sequence_protocols: 'Sequence_Protocols',
};
const KEYS = new Map<string, ClientKey>((Object.keys(KEY_NAMES) as ClientKey[]).map((key) => [key, key] as const));
/** A host name or address literal, as getaddrinfo takes it; no spaces, brackets or shell syntax. */
const HOST = /^[A-Za-z0-9._:%-]{1,253}$/;

const CLIENT_DIALECT: SectionDialect<ClientKey> = {
  flags: new Map(),
  keyFor: (_section, key) => KEYS.get(key),
  spell: (_section, key) => KEY_NAMES[key],
  isKnown: (key) => KEYS.has(key),
  unknownKey: (writtenKey, _key, section) =>
    `unknown key "${writtenKey}" in [${section.name}] (Address, Sequence, Sequence_Secret, Door, Sequence_Period, Sequence_Length, Sequence_Ports, Sequence_Protocols, Delay, Family)`,
  beforeAnySection: 'line before any [alias] section',
};

/** Throws a ConfigError listing every problem, each at its file:line. */
export function parseClientConfig(text: string, file: string): ClientConfig {
  const problems: ConfigProblem[] = [];
  const syntax = (message: string, line: number, quoted: string) => problems.push({ code: ErrorCodes.CONFIG_SYNTAX, message, file, line, text: quoted });
  const { sections } = readSections(text, CLIENT_DIALECT, syntax);
  const hosts = new Map<string, ClientHost>();
  for (const section of sections) {
    const host = interpretHost(section, (message, line, quoted) => problems.push({ code: ErrorCodes.CONFIG_INVALID, message, file, line, text: quoted }));
    if (host) hosts.set(host.name, host);
  }
  throwIfAny(problems.sort((a, b) => a.line - b.line));
  return { file, hosts };
}

function interpretHost(section: ConfigSection<ClientKey>, report: Invalid): ClientHost | undefined {
  let valid = !section.hadKeyProblem;
  const invalid: Invalid = (message, line, quoted) => {
    valid = false;
    report(`[${section.name}]: ${message}`, line, quoted);
  };
  const get = (key: ClientKey): SectionEntry | undefined => section.entries.get(key);

  const address = get('address');
  if (!address) invalid('no Address (the host name or address to knock on)', section.line, section.text);
  else if (!HOST.test(address.value)) invalid('Address must be a host name or an IP address', address.line, address.value);

  // The server's own reading of the time-based keys: same defaults, limits and messages as a door.
  const timeSequence = interpretTimeSequence(section.entries as ReadonlyMap<string, SectionEntry> as ReadonlyMap<DoorKey, SectionEntry>, invalid);
  const sequence = get('sequence');
  let steps: KnockStep[] = [];
  if (sequence) {
    const parsed = parseSequence(sequence.value);
    if (parsed.ok) steps = parsed.steps;
    else invalid(`Sequence: ${parsed.message}`, sequence.line, parsed.text);
  }
  const secret = get('sequence_secret');
  if (sequence && secret) invalid('Sequence and Sequence_Secret exclude each other: give one', Math.max(sequence.line, secret.line), (sequence.line > secret.line ? sequence : secret).text);
  if (!sequence && !secret && !section.hadKeyProblem) invalid('no Sequence or Sequence_Secret', section.line, section.text);
  const door = get('door');
  if (door && !secret) invalid('Door only applies with Sequence_Secret', door.line, door.text);
  if (door && door.value === '') invalid('Door needs the door name of the server\'s config', door.line, door.text);

  let delayMs: number | undefined;
  const delay = get('delay');
  if (delay) {
    try {
      delayMs = parseDelay(delay.value);
    } catch (error) {
      invalid(`Delay: ${(error as Error).message}`, delay.line, delay.value);
    }
  }
  let family: FamilyChoice | undefined;
  const familyEntry = get('family');
  if (familyEntry) {
    family = parseFamily(familyEntry.value);
    if (family === undefined) invalid('Family must be 4, 6 or both', familyEntry.line, familyEntry.value);
  }
  if (!valid || !address) return undefined;

  const host: ClientHost = { name: section.name, address: address.value, steps, door: door?.value ?? section.name, line: section.line, keyLines: {} };
  for (const [key, entry] of section.entries) host.keyLines[key] = entry.line;
  if (timeSequence) host.timeSequence = timeSequence;
  if (delayMs !== undefined) host.delayMs = delayMs;
  if (family !== undefined) host.family = family;
  return host;
}

function parseFamily(text: string): FamilyChoice | undefined {
  const value = asciiLower(text);
  if (value === '4') return 4;
  if (value === '6') return 6;
  if (value === 'both') return 'both';
  return undefined;
}
