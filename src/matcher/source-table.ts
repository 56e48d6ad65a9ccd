/** The links a SourceTable keeps on its items; only SourceTable touches them. */
export interface SourceTableLinks<T> {
  source: string;
  doorIndex: number;
  tableHash: number;
  tableNext: T | undefined;
  tabled: boolean;
}

const FIRST_SIZE = 1024;

/**
 * Attempts by (source address, door index): a chained hash table of the attempts themselves. It
 * replaces a Map<string, ...>: under a spoofed flood every packet adds one new source and evicts an
 * old one, and a Map with tens of thousands of live string keys under that churn keeps rehashing into
 * fresh multi-megabyte tables (the matcher's largest cost). Here an insert or delete writes one slot
 * of a fixed array, and the table only grows, to the next power of two above the attempt count.
 *
 * Sources are chosen by whoever sends packets, so the hash is seeded: without the seed, addresses
 * could be picked to land in one chain and turn every lookup into a walk of the whole table.
 */
export class SourceTable<T extends SourceTableLinks<T>> {
  private buckets: (T | undefined)[] = new Array<T | undefined>(FIRST_SIZE).fill(undefined);
  private mask = FIRST_SIZE - 1;
  private count = 0;

  constructor(private readonly seed: number) {}

  /** Hash of a source, for `find` and `add` (computed once per event, used for every door). */
  hash(source: string): number {
    let h = this.seed ^ source.length;
    for (let i = 0; i < source.length; i++) {
      h = Math.imul(h ^ source.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 15;
    }
    // murmur3's finaliser: every input bit reaches the low bits the mask keeps.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) | 0;
  }

  find(source: string, hash: number, doorIndex: number): T | undefined {
    let item = this.buckets[hash & this.mask];
    while (item !== undefined) {
      if (item.tableHash === hash && item.doorIndex === doorIndex && item.source === source) return item;
      item = item.tableNext;
    }
    return undefined;
  }

  /** Adds an item whose (source, doorIndex) is not in the table; `hash` is `hash(item.source)`. */
  add(item: T, hash: number): void {
    if (item.tabled) return;
    if (this.count >= this.buckets.length) this.grow();
    item.tableHash = hash;
    const slot = hash & this.mask;
    item.tableNext = this.buckets[slot];
    this.buckets[slot] = item;
    item.tabled = true;
    this.count++;
  }

  delete(item: T): void {
    if (!item.tabled) return;
    const slot = item.tableHash & this.mask;
    let before = this.buckets[slot];
    if (before === item) this.buckets[slot] = item.tableNext;
    else {
      while (before !== undefined && before.tableNext !== item) before = before.tableNext;
      if (before) before.tableNext = item.tableNext;
    }
    item.tableNext = undefined;
    item.tabled = false;
    this.count--;
  }

  clear(): void {
    for (let i = 0; i < this.buckets.length; i++) {
      let item = this.buckets[i];
      while (item !== undefined) {
        const next: T | undefined = item.tableNext;
        item.tableNext = undefined;
        item.tabled = false;
        item = next;
      }
      this.buckets[i] = undefined;
    }
    this.count = 0;
  }

  private grow(): void {
    const old = this.buckets;
    this.buckets = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.mask = this.buckets.length - 1;
    for (let i = 0; i < old.length; i++) {
      let item = old[i];
      while (item !== undefined) {
        const next: T | undefined = item.tableNext;
        const slot = item.tableHash & this.mask;
        item.tableNext = this.buckets[slot];
        this.buckets[slot] = item;
        item = next;
      }
    }
  }
}
