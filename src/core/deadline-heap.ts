/**
 * Deadlines by time, earliest first (a binary min-heap): push and pop in O(log n), so that finding
 * the next door to close never walks every open door. Entries are never updated in place: whoever
 * owns the heap pushes a new entry when a deadline moves and skips entries that no longer match
 * (lazy deletion). Pure.
 */
export interface Deadline {
  at: number;
  id: string;
}

export class DeadlineHeap {
  private readonly entries: Deadline[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(at: number, id: string): void {
    const entries = this.entries;
    entries.push({ at, id });
    let child = entries.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if ((entries[parent] as Deadline).at <= at) break;
      entries[child] = entries[parent] as Deadline;
      child = parent;
    }
    entries[child] = { at, id };
  }

  peek(): Deadline | undefined {
    return this.entries[0];
  }

  pop(): Deadline | undefined {
    const entries = this.entries;
    const top = entries[0];
    const last = entries.pop();
    if (top === undefined || last === undefined || entries.length === 0) return top;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= entries.length) break;
      const right = left + 1;
      const smaller = right < entries.length && (entries[right] as Deadline).at < (entries[left] as Deadline).at ? right : left;
      if ((entries[smaller] as Deadline).at >= last.at) break;
      entries[parent] = entries[smaller] as Deadline;
      parent = smaller;
    }
    entries[parent] = last;
    return top;
  }

  /** The earliest entry `isCurrent` accepts; the stale ones before it are dropped. */
  earliest(isCurrent: (entry: Deadline) => boolean): Deadline | undefined {
    for (let top = this.peek(); top !== undefined; top = this.peek()) {
      if (isCurrent(top)) return top;
      this.pop();
    }
    return undefined;
  }
}
