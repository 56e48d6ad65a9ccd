import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SourceTable, type SourceTableLinks } from '../src/matcher/source-table.js';

interface Item extends SourceTableLinks<Item> {
  id: number;
}

function item(id: number, source: string, doorIndex: number): Item {
  return { id, source, doorIndex, tableHash: 0, tableNext: undefined, tabled: false, siblingNext: undefined, siblingPrev: undefined, headNext: undefined };
}

function ownDoors(table: SourceTable<Item>, source: string): number[] {
  const doors: number[] = [];
  for (let at = table.head(source, table.hash(source)); at; at = at.siblingNext) doors.push(at.doorIndex);
  return doors.sort((a, b) => a - b);
}

test('the source table finds, lists and forgets items as a Map keyed by (source, door) does, across growth (property)', () => {
  const op = fc.record({ kind: fc.constantFrom('add', 'add', 'add', 'delete', 'renumber'), source: fc.integer({ min: 0, max: 40 }), door: fc.integer({ min: 0, max: 60 }), to: fc.integer({ min: 0, max: 60 }) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), fc.integer(), (ops, seed) => {
      // A tiny seed space would not matter: correctness may not depend on where items land.
      const table = new SourceTable<Item>(seed);
      const model = new Map<string, Item>();
      const key = (source: string, door: number) => `${source}/${door}`;
      let id = 0;
      for (const { kind, source: n, door, to } of ops) {
        const source = `10.0.${n >> 8}.${n & 255}`;
        const hash = table.hash(source);
        const existing = model.get(key(source, door));
        if (kind === 'add' && !existing) {
          const fresh = item(id++, source, door);
          table.add(fresh, hash);
          model.set(key(source, door), fresh);
        } else if (kind === 'delete' && existing) {
          table.delete(existing);
          model.delete(key(source, door));
        } else if (kind === 'renumber' && existing && !model.has(key(source, to))) {
          table.renumber(existing, to);
          model.delete(key(source, door));
          model.set(key(source, to), existing);
        }
        assert.equal(table.find(source, hash, door), model.get(key(source, door)));
        const expected = [...model.values()].filter((i) => i.source === source).map((i) => i.doorIndex).sort((a, b) => a - b);
        assert.deepEqual(ownDoors(table, source), expected);
      }
      for (const [k, stored] of model) assert.equal(table.find(stored.source, table.hash(stored.source), stored.doorIndex), stored, k);
    }),
    { numRuns: 150 },
  );
});

test('ten thousand doors of one source do not share one chain: every look-up finds its own', () => {
  const table = new SourceTable<Item>(1);
  const hash = table.hash('192.0.2.1');
  const items = Array.from({ length: 10_000 }, (_, door) => item(door, '192.0.2.1', door));
  for (const it of items) table.add(it, hash);
  for (const it of items) assert.equal(table.find('192.0.2.1', hash, it.doorIndex), it);
  assert.equal(ownDoors(table, '192.0.2.1').length, 10_000);
  for (const it of items.slice(0, 5_000)) table.delete(it);
  assert.deepEqual(ownDoors(table, '192.0.2.1'), items.slice(5_000).map((it) => it.doorIndex));
});
