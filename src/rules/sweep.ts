import type { Protocol, TcpFlagRule } from '../core/types.js';

/** One door's ports on one protocol: an inclusive interval and the door's TCP flag test. */
export interface Segment {
  protocol: Protocol;
  from: number;
  to: number;
  tcpFlags: TcpFlagRule;
  door: string;
}

/** A disjoint interval, the flag bits every segment covering it tests, and the doors covering it. */
export interface SweptMark {
  protocol: Protocol;
  from: number;
  to: number;
  tcpFlags: TcpFlagRule;
  doors: string[];
}

const FLAG_BITS = 8;
/** Ports are 0-65535 (the caller checks 1-65535), so an interval's end + 1 is at most 65536. */
const PORT_SLOTS = 65537;

/**
 * Segment indices ordered by `key` (a port), by counting: linear, where a comparison sort was the bulk
 * of `rules`; with the keys in that order, so that the sweep compares ports without reaching into
 * segments scattered over the heap.
 */
function orderBy(segments: readonly Segment[], key: (segment: Segment) => number): { order: Int32Array; keys: Int32Array } {
  const counts = new Int32Array(PORT_SLOTS + 1);
  for (const segment of segments) counts[key(segment) + 1]!++;
  for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
  const order = new Int32Array(segments.length);
  const keys = new Int32Array(segments.length);
  for (let i = 0; i < segments.length; i++) {
    const k = key(segments[i]!);
    keys[counts[k]!] = k;
    order[counts[k]!++] = i;
  }
  return { order, keys };
}

/**
 * Cuts one protocol's segments at every boundary and joins neighbours that test the same flags, in
 * one sweep over the boundaries (ordered by counting, ports being few): the segments covering an interval are kept as it goes (added at their
 * start, dropped after their end), with per-bit counts of the active classes of segments (a door and
 * its flag test) that do *not* test a bit, so the bits all of them test are known without looking at
 * them again. O(S + 65536) plus the doors named.
 */
export function sweepMarks(protocol: Protocol, segments: readonly Segment[]): SweptMark[] {
  for (const segment of segments) {
    if (!(Number.isInteger(segment.from) && Number.isInteger(segment.to) && segment.from >= 0 && segment.to <= 65535 && segment.from <= segment.to)) {
      throw new RangeError(`port interval ${segment.from}-${segment.to} is not within 0-65535`);
    }
  }
  const { order: starts, keys: startPorts } = orderBy(segments, (segment) => segment.from);
  const { order: ends, keys: endPorts } = orderBy(segments, (segment) => segment.to);
  const isBound = new Uint8Array(PORT_SLOTS);
  for (const segment of segments) {
    isBound[segment.from] = 1;
    isBound[segment.to + 1] = 1;
  }
  const bounds: number[] = [];
  for (let port = 0; port < PORT_SLOTS; port++) if (isBound[port] === 1) bounds.push(port);
  const { classOf, classes } = classify(segments);
  /** Active segments per class: a class changes the bit counts and the doors only when it turns on or off. */
  const activeInClass = new Int32Array(classes.length);
  const lacksRequired = new Int32Array(FLAG_BITS);
  const lacksForbidden = new Int32Array(FLAG_BITS);
  const activeDoors = new Map<string, number>();
  let active = 0;
  /** A class turned on or off since the last interval: its flags and doors must be looked at again. */
  let classesChanged = true;
  const change = (index: number, delta: 1 | -1) => {
    active += delta;
    const id = classOf[index]!;
    const before = activeInClass[id]!;
    activeInClass[id] = before + delta;
    if (before !== 0 && before + delta !== 0) return;
    classesChanged = true;
    const { door, required, forbidden } = classes[id]!;
    for (let bit = 0; bit < FLAG_BITS; bit++) {
      if ((required & (1 << bit)) === 0) lacksRequired[bit]! += delta;
      if ((forbidden & (1 << bit)) === 0) lacksForbidden[bit]! += delta;
    }
    const count = (activeDoors.get(door) ?? 0) + delta;
    if (count === 0) activeDoors.delete(door);
    else activeDoors.set(door, count);
  };
  const marks: { mark: SweptMark; doors: Set<string> }[] = [];
  let nextStart = 0;
  let nextEnd = 0;
  let required = 0;
  let forbidden = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const to = bounds[i + 1]! - 1;
    while (nextEnd < ends.length && endPorts[nextEnd]! < from) change(ends[nextEnd++]!, -1);
    while (nextStart < starts.length && startPorts[nextStart]! <= from) change(starts[nextStart++]!, 1);
    if (active === 0) continue;
    const sameClasses = !classesChanged;
    classesChanged = false;
    if (!sameClasses) {
      required = 0;
      forbidden = 0;
      for (let bit = 0; bit < FLAG_BITS; bit++) {
        if (lacksRequired[bit] === 0) required |= 1 << bit;
        if (lacksForbidden[bit] === 0) forbidden |= 1 << bit;
      }
    }
    const previous = marks[marks.length - 1];
    if (previous && previous.mark.to + 1 === from && previous.mark.tcpFlags.required === required && previous.mark.tcpFlags.forbidden === forbidden) {
      previous.mark.to = to;
      // With the same classes active as in the interval before, the mark already names their doors.
      if (!sameClasses) for (const door of activeDoors.keys()) previous.doors.add(door);
    } else {
      marks.push({ mark: { protocol, from, to, tcpFlags: { required, forbidden }, doors: [] }, doors: new Set(activeDoors.keys()) });
    }
  }
  return marks.map(({ mark, doors }) => ({ ...mark, doors: [...doors].sort() }));
}

interface SegmentClass {
  door: string;
  required: number;
  forbidden: number;
}

/**
 * Segments of one door with one flag test act alike in the sweep: each gets the id of its class, so
 * that a door with many ports (a one-time door: three per line of its file) costs a counter each.
 */
function classify(segments: readonly Segment[]): { classOf: Int32Array; classes: SegmentClass[] } {
  const classOf = new Int32Array(segments.length);
  const classes: SegmentClass[] = [];
  const byDoor = new Map<string, number[]>();
  let last: Segment | undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const { door, tcpFlags } = segment;
    // A door's segments come one after the other, sharing its flag object: most are the class just seen.
    if (last && last.door === door && last.tcpFlags === tcpFlags) {
      classOf[i] = classOf[i - 1]!;
      continue;
    }
    last = segment;
    let ids = byDoor.get(door);
    if (!ids) byDoor.set(door, (ids = []));
    let id = ids.find((known) => classes[known]!.required === tcpFlags.required && classes[known]!.forbidden === tcpFlags.forbidden);
    if (id === undefined) {
      id = classes.length;
      classes.push({ door, required: tcpFlags.required, forbidden: tcpFlags.forbidden });
      ids.push(id);
    }
    classOf[i] = id;
  }
  return { classOf, classes };
}
