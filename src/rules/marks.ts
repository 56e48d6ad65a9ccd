import type { Config, Door, KnockStep, Protocol, TcpFlagRule } from '../core/types.js';
import { NfknockError } from '../core/errors.js';
import { sweepMarks, type Segment } from './sweep.js';

/**
 * One kernel rule's worth of knock ports: a protocol, an inclusive port interval and, for TCP, the
 * flag test. Marks never overlap: a packet that matched two rules would be logged twice and the
 * daemon would see a knock twice.
 */
export interface KnockMark {
  protocol: Protocol;
  from: number;
  to: number;
  /** For UDP always {0, 0}. For TCP the test every door on these ports accepts (may be {0, 0}: any packet). */
  tcpFlags: TcpFlagRule;
  /** Names of the doors that knock here, sorted, for comments in the generated file. */
  doors: string[];
}

const noFlags: TcpFlagRule = { required: 0, forbidden: 0 };

/**
 * The ports every door knocks on, merged into disjoint intervals. Doors sharing a port share one rule;
 * when their TCP flag tests differ, the rule keeps only the bits all of them test, so it logs every
 * packet any of the doors could use (the matcher checks each door's own flags).
 */
export function knockMarks(config: Config, oneTimeSteps?: ReadonlyMap<string, readonly KnockStep[]>): KnockMark[] {
  const segments = config.doors.flatMap((door) => doorSegments(config.file, door, oneTimeSteps));
  return (['tcp', 'udp'] as const).flatMap((protocol) =>
    sweepMarks(protocol, segments.filter((segment) => segment.protocol === protocol)),
  );
}

function doorSegments(
  file: string,
  door: Door,
  oneTimeSteps: ReadonlyMap<string, readonly KnockStep[]> | undefined,
): Segment[] {
  const flags = door.tcpFlags;
  const segment = (protocol: Protocol, from: number, to: number): Segment => {
    checkPort(file, door, from);
    checkPort(file, door, to);
    return { protocol, from, to, tcpFlags: protocol === 'tcp' ? flags : noFlags, door: door.name };
  };
  const segments = door.steps.map((step) => segment(step.protocol, step.port, step.port));
  if (door.timeSequence) {
    const spec = door.timeSequence;
    if (spec.portMin > spec.portMax) {
      throw invalid(file, door, `door [${door.name}] has a time-based port range ${spec.portMin}-${spec.portMax} that is empty`);
    }
    const protocols: Protocol[] = spec.protocols === 'mixed' ? ['tcp', 'udp'] : [spec.protocols];
    for (const protocol of protocols) segments.push(segment(protocol, spec.portMin, spec.portMax));
  }
  if (door.oneTimeFile !== undefined) {
    for (const step of oneTimeSteps?.get(door.name) ?? []) segments.push(segment(step.protocol, step.port, step.port));
  }
  if (segments.length === 0) {
    const why =
      door.oneTimeFile !== undefined
        ? `its one-time sequences file ${door.oneTimeFile} gave no unused sequence`
        : 'it has no sequence';
    throw invalid(file, door, `door [${door.name}] has no port to mark: ${why}`);
  }
  return segments;
}

function checkPort(file: string, door: Door, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(file, door, `door [${door.name}] knocks on port ${port}, outside 1-65535`);
  }
}

function invalid(file: string, door: Door, message: string): NfknockError {
  return new NfknockError('NFK_CONFIG_INVALID', message, { location: { file, line: door.line } });
}
