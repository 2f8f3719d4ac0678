/**
 * A counted B+tree of distinct strings: insert, delete, rank of a key and key at a rank in
 * O(log n), neighbours by walking linked leaves, and an O(n) build from sorted input.
 *
 * Why our own: the maintained npm candidates were measured on this machine (Node 24, 2 cores) with
 * 1,000,000 random 80-character keys. `@js-sdsl/ordered-map` 4.4.2 (red-black tree with
 * `enableIndex`): build from sorted keys 5.1 s, rank + 20 neighbours p50 16 µs / p99 360 µs, erase +
 * insert 22 µs, 233 MB heap with the keys; its `getElementByPos` walks the tree in O(n).
 * `sorted-btree` 2.1.0 keeps no subtree counts, so no rank; `functional-red-black-tree` is persistent
 * (allocates on every write) and unmaintained since 2014. This tree, same keys, same machine: build
 * from sorted keys 64 ms, rank + 20 neighbours p50 7.8 µs / p99 27 µs, erase + insert 11 µs,
 * 155 MB heap with the keys.
 *
 * Keys compare as JavaScript strings (UTF-16 code units), which for the fixed-width lowercase hex
 * keys of the rank cache is the byte order PostgreSQL's "C" collation and Redis use.
 */

const MAX = 64; // keys per leaf and children per inner node
const FILL = 48; // keys per leaf (children per node) when building from sorted input

interface Leaf {
  leaf: true;
  keys: string[];
  prev: Leaf | null;
  next: Leaf | null;
}

interface Inner {
  leaf: false;
  /** `seps[i]` is the smallest key child `i + 1` may hold; keys below `seps[0]` go to child 0. */
  seps: string[];
  children: TreeNode[];
  /** Number of keys under each child. */
  counts: number[];
}

type TreeNode = Leaf | Inner;

/** Index of the first element of a sorted array that is >= key. */
function lowerBound(a: readonly string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child of an inner node whose range holds key. */
function childIndex(node: Inner, key: string): number {
  let lo = 0;
  let hi = node.seps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (node.seps[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const newLeaf = (keys: string[]): Leaf => ({ leaf: true, keys, prev: null, next: null });
const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);
const smallest = (n: TreeNode): string => {
  while (!n.leaf) n = n.children[0]!;
  return n.keys[0]!;
};

export class CountedBTree {
  private root: TreeNode = newLeaf([]);
  private count = 0;

  /** Builds a tree from keys already in ascending order without duplicates (not checked). */
  static fromSorted(keys: readonly string[]): CountedBTree {
    const tree = new CountedBTree();
    if (keys.length === 0) return tree;
    let level: TreeNode[] = [];
    let prev: Leaf | null = null;
    for (let i = 0; i < keys.length; i += FILL) {
      const leaf = newLeaf(keys.slice(i, i + FILL));
      leaf.prev = prev;
      if (prev) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
    }
    let sizes = level.map((l) => (l as Leaf).keys.length);
    while (level.length > 1) {
      const up: TreeNode[] = [];
      const upSizes: number[] = [];
      for (let i = 0; i < level.length; i += FILL) {
        const children = level.slice(i, i + FILL);
        const counts = sizes.slice(i, i + FILL);
        up.push({ leaf: false, children, counts, seps: children.slice(1).map(smallest) });
        upSizes.push(sum(counts));
      }
      level = up;
      sizes = upSizes;
    }
    tree.root = level[0]!;
    tree.count = keys.length;
    return tree;
  }

  get size(): number {
    return this.count;
  }

  /** Inserts a key; false when it was already there. */
  insert(key: string): boolean {
    const path: Inner[] = [];
    const slots: number[] = [];
    let node = this.root;
    while (!node.leaf) {
      const i = childIndex(node, key);
      path.push(node);
      slots.push(i);
      node = node.children[i]!;
    }
    const at = lowerBound(node.keys, key);
    if (node.keys[at] === key) return false;
    node.keys.splice(at, 0, key);
    this.count++;
    for (let d = 0; d < path.length; d++) path[d]!.counts[slots[d]!]!++;
    if (node.keys.length > MAX) this.split(node, path, slots);
    return true;
  }

  /** Splits an overfull node in two, then its ancestors as needed. */
  private split(node: TreeNode, path: Inner[], slots: number[]): void {
    for (let d = path.length; ; d--) {
      let right: TreeNode;
      let sep: string;
      let leftCount: number;
      let rightCount: number;
      if (node.leaf) {
        const half = node.keys.length >>> 1;
        const r = newLeaf(node.keys.splice(half));
        r.next = node.next;
        if (r.next) r.next.prev = r;
        r.prev = node;
        node.next = r;
        right = r;
        sep = r.keys[0]!;
        leftCount = node.keys.length;
        rightCount = r.keys.length;
      } else {
        const half = node.children.length >>> 1;
        const children = node.children.splice(half);
        const counts = node.counts.splice(half);
        sep = node.seps[half - 1]!;
        const seps = node.seps.splice(half - 1).slice(1);
        right = { leaf: false, children, counts, seps };
        leftCount = sum(node.counts);
        rightCount = sum(counts);
      }
      if (d === 0) {
        this.root = { leaf: false, children: [node, right], counts: [leftCount, rightCount], seps: [sep] };
        return;
      }
      const parent = path[d - 1]!;
      const slot = slots[d - 1]!;
      parent.children.splice(slot + 1, 0, right);
      parent.counts.splice(slot, 1, leftCount, rightCount);
      parent.seps.splice(slot, 0, sep);
      if (parent.children.length <= MAX) return;
      node = parent;
    }
  }

  /**
   * Removes a key; false when it was not there. Empty nodes are unlinked; partly empty ones are
   * not merged (the tree never grows taller from deletes, and a churned board keeps its height).
   */
  delete(key: string): boolean {
    const path: Inner[] = [];
    const slots: number[] = [];
    let node = this.root;
    while (!node.leaf) {
      const i = childIndex(node, key);
      path.push(node);
      slots.push(i);
      node = node.children[i]!;
    }
    const at = lowerBound(node.keys, key);
    if (node.keys[at] !== key) return false;
    node.keys.splice(at, 1);
    this.count--;
    for (let d = 0; d < path.length; d++) path[d]!.counts[slots[d]!]!--;
    if (node.keys.length === 0 && path.length > 0) {
      if (node.prev) node.prev.next = node.next;
      if (node.next) node.next.prev = node.prev;
      // Unlink the empty node, and any ancestor left without children.
      for (let d = path.length - 1; d >= 0; d--) {
        const parent = path[d]!;
        const slot = slots[d]!;
        parent.children.splice(slot, 1);
        parent.counts.splice(slot, 1);
        parent.seps.splice(slot === 0 ? 0 : slot - 1, 1);
        if (parent.children.length > 0 || d === 0) break;
      }
    }
    while (!this.root.leaf && this.root.children.length === 1) this.root = this.root.children[0]!;
    if (!this.root.leaf && this.root.children.length === 0) this.root = newLeaf([]);
    return true;
  }

  /** Whether the key is present. */
  has(key: string): boolean {
    let node = this.root;
    while (!node.leaf) node = node.children[childIndex(node, key)]!;
    return node.keys[lowerBound(node.keys, key)] === key;
  }

  /** 0-based position of a present key, or -1. */
  indexOf(key: string): number {
    let node = this.root;
    let before = 0;
    while (!node.leaf) {
      const i = childIndex(node, key);
      for (let j = 0; j < i; j++) before += node.counts[j]!;
      node = node.children[i]!;
    }
    const at = lowerBound(node.keys, key);
    return node.keys[at] === key ? before + at : -1;
  }

  /** How many keys are strictly smaller than key (present or not). */
  countBelow(key: string): number {
    let node = this.root;
    let before = 0;
    while (!node.leaf) {
      const i = childIndex(node, key);
      for (let j = 0; j < i; j++) before += node.counts[j]!;
      node = node.children[i]!;
    }
    return before + lowerBound(node.keys, key);
  }

  /** Keys at positions `start` .. `end` inclusive (0-based, clamped to the tree). */
  range(start: number, end: number): string[] {
    start = Math.max(0, start);
    end = Math.min(this.count - 1, end);
    const out: string[] = [];
    if (start > end) return out;
    let node = this.root;
    let pos = start;
    while (!node.leaf) {
      let i = 0;
      while (pos >= node.counts[i]!) pos -= node.counts[i++]!;
      node = node.children[i]!;
    }
    let leaf: Leaf | null = node;
    while (leaf && out.length <= end - start) {
      for (let j = pos; j < leaf.keys.length && out.length <= end - start; j++) out.push(leaf.keys[j]!);
      leaf = leaf.next;
      pos = 0;
    }
    return out;
  }

  /** Every key in order (tests and diagnostics). */
  *keys(): IterableIterator<string> {
    let node = this.root;
    while (!node.leaf) node = node.children[0]!;
    for (let leaf: Leaf | null = node; leaf; leaf = leaf.next) yield* leaf.keys;
  }
}
