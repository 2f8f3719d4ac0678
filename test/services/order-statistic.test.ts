/** The counted B+tree against a sorted array, under random inserts and deletes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CountedBTree } from '../../src/services/order-statistic.js';

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const key = (n: number) => n.toString(16).padStart(8, '0');

function check(tree: CountedBTree, model: string[]) {
  assert.equal(tree.size, model.length);
  assert.deepEqual([...tree.keys()], model);
}

describe('CountedBTree', () => {
  test('random inserts and deletes match a sorted array (rank, range, countBelow)', () => {
    const random = rng(42);
    const tree = new CountedBTree();
    const model: string[] = [];
    for (let step = 0; step < 20_000; step++) {
      const k = key(Math.floor(random() * 5000));
      const at = model.findIndex((m) => m >= k);
      const present = at >= 0 && model[at] === k;
      if (random() < 0.6) {
        assert.equal(tree.insert(k), !present);
        if (!present) model.splice(at < 0 ? model.length : at, 0, k);
      } else {
        assert.equal(tree.delete(k), present);
        if (present) model.splice(at, 1);
      }
      if (step % 997 === 0) {
        check(tree, model);
        for (let i = 0; i < model.length; i += 37) {
          assert.equal(tree.indexOf(model[i]!), i);
          assert.deepEqual(tree.range(i, i + 9), model.slice(i, i + 10));
        }
        const probe = key(Math.floor(random() * 5000));
        assert.equal(tree.countBelow(probe), model.filter((m) => m < probe).length);
        assert.equal(tree.has(probe), model.includes(probe));
      }
    }
    check(tree, model);
  });

  test('built from sorted keys, then changed', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => key(i * 2));
    const tree = CountedBTree.fromSorted(keys);
    check(tree, keys);
    assert.equal(tree.indexOf(key(5000)), 2500);
    assert.equal(tree.indexOf(key(5001)), -1);
    assert.equal(tree.insert(key(5001)), true);
    assert.equal(tree.indexOf(key(5002)), 2502);
    for (let i = 0; i < 10_000; i += 2) tree.delete(key(i * 2));
    assert.equal(tree.size, 5001);
    assert.deepEqual(tree.range(0, 2), [key(2), key(6), key(10)]);
    assert.deepEqual(tree.range(-5, 0), [key(2)]);
    assert.deepEqual(tree.range(5000, 6000), [key(19998)]);
  });

  test('emptied completely and refilled', () => {
    const tree = CountedBTree.fromSorted(Array.from({ length: 1000 }, (_, i) => key(i)));
    for (let i = 999; i >= 0; i--) assert.equal(tree.delete(key(i)), true);
    assert.equal(tree.size, 0);
    assert.deepEqual(tree.range(0, 10), []);
    assert.equal(tree.insert(key(7)), true);
    assert.deepEqual([...tree.keys()], [key(7)]);
    assert.equal(CountedBTree.fromSorted([]).size, 0);
  });
});
