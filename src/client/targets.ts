import { ErrorCodes, NfknockError } from '../core/errors.js';
import { parseWholeNumber } from '../core/whole-number.js';
import type { KnockStep, Protocol } from '../core/types.js';

/**
 * knock(1)'s `PORT[:PROTO]` arguments. knock itself hands the port to getaddrinfo and sends anything it
 * does not recognise as TCP (`7000:sctp`, `7000:UDP`, `70000` wrapping to 4464): here every such
 * argument is an error, because a knock that silently goes to the wrong port just fails to open the door.
 */
export interface KnockTarget {
  port: number;
  /** Undefined when the argument gave no `:tcp`/`:udp`. */
  protocol: Protocol | undefined;
}

export function parseKnockTarget(text: string): KnockTarget {
  const colon = text.indexOf(':');
  const portText = colon < 0 ? text : text.slice(0, colon);
  const protocolText = colon < 0 ? undefined : text.slice(colon + 1);
  return { port: parsePort(portText, text), protocol: protocolText === undefined ? undefined : parseProtocol(protocolText, text) };
}

export function parseKnockTargets(args: string[], defaultProtocol: Protocol): KnockStep[] {
  if (args.length === 0) throw new NfknockError(ErrorCodes.USAGE, 'no ports to knock on: give at least one PORT[:tcp|udp]');
  return args.map((arg) => {
    const target = parseKnockTarget(arg);
    return { port: target.port, protocol: target.protocol ?? defaultProtocol };
  });
}

/**
 * knock's `-u`: "make all port hits use UDP". knock.c sends UDP when `-u` is given even for a port
 * written `:tcp`, and a drop-in must knock the same way; the caller can warn about the overridden ones.
 */
export function forceUdp(args: string[]): { steps: KnockStep[]; overridden: string[] } {
  if (args.length === 0) return { steps: parseKnockTargets(args, 'udp'), overridden: [] };
  const overridden: string[] = [];
  const steps = args.map((arg) => {
    const target = parseKnockTarget(arg);
    if (target.protocol === 'tcp') overridden.push(arg);
    return { port: target.port, protocol: 'udp' as const };
  });
  return { steps, overridden };
}

/** knock's `-d`: milliseconds between knocks. */
export function parseDelay(text: string): number {
  return parseWholeNumber(text, { max: 999_999_999, message: 'delay must be a whole number of milliseconds (0 or more)' });
}

function parsePort(portText: string, whole: string): number {
  if (portText === '') throw new NfknockError(ErrorCodes.USAGE, 'missing port number before ":"', { location: { text: whole } });
  if (!/^\d+$/.test(portText)) {
    throw new NfknockError(ErrorCodes.USAGE, 'port must be a number from 1 to 65535 (service names are not accepted)', {
      location: { text: whole },
    });
  }
  const port = portText.length > 5 ? Infinity : Number(portText);
  if (port < 1 || port > 65535) throw new NfknockError(ErrorCodes.USAGE, `port ${portText} is outside 1-65535`, { location: { text: whole } });
  return port;
}

function parseProtocol(protocolText: string, whole: string): Protocol {
  const lower = protocolText.toLowerCase();
  if (lower === 'tcp' || lower === 'udp') return lower;
  const shown = protocolText === '' ? 'missing protocol after ":"' : `unknown protocol ${JSON.stringify(protocolText)}`;
  throw new NfknockError(ErrorCodes.USAGE, `${shown}: write PORT, PORT:tcp or PORT:udp`, { location: { text: whole } });
}
