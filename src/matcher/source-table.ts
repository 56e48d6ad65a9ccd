/** The links a SourceTable keeps on its items; only SourceTable touches them. */
export interface SourceTableLinks<T> {
  source: string;
  doorIndex: number;
  /** hash(source): shared by all of a source's items. */
  tableHash: number;
  /** Next item in the (source, door) chain. */
  tableNext: T | undefined;
  tabled: boolean;
  /** The source's other items (a doubly linked list whose head sits in the heads chain). */
  siblingNext: T | undefined;
  siblingPrev: T | undefined;
  /** Next head in the per-source chain; meaningful only while the item heads its source's list. */
  headNext: T | undefined;
}

const FIRST_SIZE = 1024;

/**
 * Attempts by (source address, door index), and each source's attempts as a list: two chained hash
 * tables over the attempts themselves. The pair table is hashed by source *and* door, so that one
 * source holding attempts for 10 000 doors does not put them all in one chain (a lookup per door
 * would then walk all of them: O(D²) per packet); the heads table finds a source's own list, so a
 * packet visits only the doors its source has attempts for.
 *
 * It replaces a Map<string, ...>: under a spoofed flood every packet adds one new source and evicts an
 * old one, and a Map with tens of thousands of live string keys under that churn keeps rehashing into
 * fresh multi-megabyte tables. Here an insert or delete writes a few slots of fixed arrays, and the
 * tables only grow, to the next power of two above the attempt count.
 *
 * Sources are chosen by whoever sends packets, so the hash is seeded: without the seed, addresses
 * could be picked to land in one chain and turn every lookup into a walk of the whole table.
 */
export class SourceTable<T extends SourceTableLinks<T>> {
  private pairs: (T | undefined)[] = new Array<T | undefined>(FIRST_SIZE).fill(undefined);
  private heads: (T | undefined)[] = new Array<T | undefined>(FIRST_SIZE).fill(undefined);
  private mask = FIRST_SIZE - 1;
  private count = 0;

  constructor(private readonly seed: number) {}

  /** Hash of a source, for `find`, `head` and `add` (computed once per event). */
  hash(source: string): number {
    let h = this.seed ^ source.length;
    for (let i = 0; i < source.length; i++) {
      h = Math.imul(h ^ source.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 15;
    }
    return finalise(h);
  }

  find(source: string, hash: number, doorIndex: number): T | undefined {
    let item = this.pairs[pairSlot(hash, doorIndex) & this.mask];
    while (item !== undefined) {
      if (item.doorIndex === doorIndex && item.tableHash === hash && item.source === source) return item;
      item = item.tableNext;
    }
    return undefined;
  }

  /** The first of the source's items; the others follow through `siblingNext`. */
  head(source: string, hash: number): T | undefined {
    let item = this.heads[hash & this.mask];
    while (item !== undefined) {
      if (item.tableHash === hash && item.source === source) return item;
      item = item.headNext;
    }
    return undefined;
  }

  /** Adds an item whose (source, doorIndex) is not in the table; `hash` is `hash(item.source)`. */
  add(item: T, hash: number): void {
    if (item.tabled) return;
    if (this.count >= this.pairs.length) this.grow();
    item.tableHash = hash;
    const slot = pairSlot(hash, item.doorIndex) & this.mask;
    item.tableNext = this.pairs[slot];
    this.pairs[slot] = item;
    const head = this.head(item.source, hash);
    if (head) {
      // Behind the head, so the heads chain stays untouched.
      item.siblingPrev = head;
      item.siblingNext = head.siblingNext;
      if (head.siblingNext) head.siblingNext.siblingPrev = item;
      head.siblingNext = item;
      item.headNext = undefined;
    } else {
      const headSlot = hash & this.mask;
      item.siblingPrev = undefined;
      item.siblingNext = undefined;
      item.headNext = this.heads[headSlot];
      this.heads[headSlot] = item;
    }
    item.tabled = true;
    this.count++;
  }

  delete(item: T): void {
    if (!item.tabled) return;
    const slot = pairSlot(item.tableHash, item.doorIndex) & this.mask;
    let before = this.pairs[slot];
    if (before === item) this.pairs[slot] = item.tableNext;
    else {
      while (before !== undefined && before.tableNext !== item) before = before.tableNext;
      if (before) before.tableNext = item.tableNext;
    }
    if (item.siblingPrev) {
      item.siblingPrev.siblingNext = item.siblingNext;
      if (item.siblingNext) item.siblingNext.siblingPrev = item.siblingPrev;
    } else {
      // The head: its next sibling (if any) takes its place in the heads chain.
      const successor = item.siblingNext;
      if (successor) {
        successor.siblingPrev = undefined;
        successor.headNext = item.headNext;
      }
      const replacement = successor ?? item.headNext;
      const headSlot = item.tableHash & this.mask;
      let previous = this.heads[headSlot];
      if (previous === item) this.heads[headSlot] = replacement;
      else {
        while (previous !== undefined && previous.headNext !== item) previous = previous.headNext;
        if (previous) previous.headNext = replacement;
      }
    }
    item.tableNext = undefined;
    item.siblingNext = undefined;
    item.siblingPrev = undefined;
    item.headNext = undefined;
    item.tabled = false;
    this.count--;
  }

  /** Moves an item to another door index (a reload renumbered the doors). */
  renumber(item: T, doorIndex: number): void {
    const hash = item.tableHash;
    this.delete(item);
    item.doorIndex = doorIndex;
    this.add(item, hash);
  }

  clear(): void {
    for (const table of [this.pairs, this.heads]) {
      for (let i = 0; i < table.length; i++) {
        let item = table[i];
        while (item !== undefined) {
          const next: T | undefined = table === this.pairs ? item.tableNext : item.headNext;
          if (table === this.heads) item.headNext = undefined;
          else {
            item.tableNext = undefined;
            item.siblingNext = undefined;
            item.siblingPrev = undefined;
            item.tabled = false;
          }
          item = next;
        }
        table[i] = undefined;
      }
    }
    this.count = 0;
  }

  private grow(): void {
    const size = this.pairs.length * 2;
    const oldPairs = this.pairs;
    const oldHeads = this.heads;
    this.pairs = new Array<T | undefined>(size).fill(undefined);
    this.heads = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (let i = 0; i < oldPairs.length; i++) {
      let item = oldPairs[i];
      while (item !== undefined) {
        const next: T | undefined = item.tableNext;
        const slot = pairSlot(item.tableHash, item.doorIndex) & this.mask;
        item.tableNext = this.pairs[slot];
        this.pairs[slot] = item;
        item = next;
      }
      item = oldHeads[i];
      while (item !== undefined) {
        const next: T | undefined = item.headNext;
        const slot = item.tableHash & this.mask;
        item.headNext = this.heads[slot];
        this.heads[slot] = item;
        item = next;
      }
    }
  }
}

/** murmur3's finaliser: every input bit reaches the low bits the mask keeps. */
function finalise(value: number): number {
  let h = Math.imul(value ^ (value >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * A source's attempts for doors d, d+1, ... sit in neighbouring slots: still one short chain each (the
 * source's hash is random and seeded), and the attempts a packet begins or an eviction ends for one
 * source share cache lines instead of each costing a miss.
 */
function pairSlot(hash: number, doorIndex: number): number {
  return (hash + doorIndex) | 0;
}
