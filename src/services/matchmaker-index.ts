/**
 * The matchmaker's per-pass candidate index. Built lazily during one `process` pass from the
 * waiting tickets (oldest first), one index per distinct plan shape (see QueryPlan): a hash map from
 * the values of the plan's exact-value fields to a bucket, each bucket oldest first, or sorted by
 * the plan's range field so a window is two binary searches away. Tickets matched during the pass
 * stay in the arrays and are skipped; a bucket whose skipped entries reach half its length is
 * compacted, which keeps skipping amortised O(1).
 */
import { keysOf, TicketState, type RangePlan, type TicketEntry } from './matchmaker-ticket.js';

const LIVE = TicketState.LIVE;

/** Tickets oldest first, with a moving start past the matched ones at the front. */
class AgeList {
  items: TicketEntry[] = [];
  head = 0;
  deadSeen = 0;

  /** Drops gone tickets when skipping them has cost half a scan of the list. */
  tidy(): void {
    while (this.head < this.items.length && this.items[this.head]!.state !== LIVE) this.head++;
    if (this.deadSeen * 2 < this.items.length - this.head) return;
    this.items = this.items.filter((e, i) => i >= this.head && e.state === LIVE);
    this.head = 0;
    this.deadSeen = 0;
  }
}

/** Tickets sorted by one numeric property (ties oldest first); `rest` lacks the property, oldest first. */
class SortedList {
  items: TicketEntry[] = [];
  vals: number[] = [];
  deadSeen = 0;
  readonly rest = new AgeList();

  tidy(): void {
    if (this.deadSeen * 2 >= this.items.length && this.deadSeen > 0) {
      const items: TicketEntry[] = [];
      const vals: number[] = [];
      for (let i = 0; i < this.items.length; i++)
        if (this.items[i]!.state === LIVE) {
          items.push(this.items[i]!);
          vals.push(this.vals[i]!);
        }
      this.items = items;
      this.vals = vals;
      this.deadSeen = 0;
    }
    this.rest.tidy();
  }
}

/** Yields a query's candidates that are still waiting, each once. */
export interface Cursor {
  next(): TicketEntry | undefined;
}

const EMPTY: Cursor = { next: () => undefined };

class AgeCursor implements Cursor {
  private i: number;
  constructor(private readonly list: AgeList) {
    list.tidy();
    this.i = list.head;
  }
  next(): TicketEntry | undefined {
    const items = this.list.items;
    while (this.i < items.length) {
      const e = items[this.i++]!;
      if (e.state === LIVE) return e;
      this.list.deadSeen++;
    }
    return undefined;
  }
}

/** First index in `vals[from, to)` whose value is ≥ x (or > x when `after`). */
function bound(vals: ArrayLike<number>, x: number, after: boolean, from = 0, to = vals.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = vals[mid]!;
    if (v < x || (after && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A window of a sorted list, nearest to `center` first (ties: the lower side). Soft windows span the
 * whole list, then go on to the tickets lacking the property.
 */
class WindowCursor implements Cursor {
  private l: number;
  private r: number;
  private readonly from: number;
  private readonly to: number;
  private rest: AgeCursor | undefined;

  constructor(
    private readonly list: SortedList,
    range: RangePlan,
    private readonly center: number,
  ) {
    list.tidy();
    const v = list.vals;
    this.from = range.hard ? bound(v, range.lo, range.loOpen) : 0;
    this.to = range.hard ? bound(v, range.hi, !range.hiOpen) : v.length;
    this.r = bound(v, center, false, this.from, Math.max(this.from, this.to));
    this.l = this.r - 1;
    this.rest = range.hard ? undefined : new AgeCursor(list.rest);
  }

  next(): TicketEntry | undefined {
    const { items, vals } = this.list;
    for (;;) {
      let i: number;
      const hasL = this.l >= this.from;
      const hasR = this.r < this.to;
      if (hasL && (!hasR || this.center - vals[this.l]! <= vals[this.r]! - this.center)) i = this.l--;
      else if (hasR) i = this.r++;
      else return this.rest?.next();
      const e = items[i]!;
      if (e.state === LIVE) return e;
      this.list.deadSeen++;
    }
  }
}

/** The candidate index of one process pass. */
export class PassIndex {
  private readonly ageIndexes = new Map<string, Map<string, AgeList>>();
  private readonly rangeIndexes = new Map<string, Map<string, SortedList>>();
  private everything: AgeList | undefined;

  /** `order`: the waiting tickets, oldest first. */
  constructor(private readonly order: readonly TicketEntry[]) {}

  /** Candidates for a ticket's query: a superset of the waiting tickets it matches (itself included). */
  cursor(e: TicketEntry): Cursor {
    const { plan } = e;
    if (plan.range) {
      const bucket = this.rangeIndex(plan.indexId, plan.eqFields, plan.range.field).get(plan.eqKey);
      return bucket ? new WindowCursor(bucket, plan.range, centerOf(e, plan.range)) : EMPTY;
    }
    if (plan.eqFields.length === 0) {
      this.everything ??= Object.assign(new AgeList(), { items: this.order.filter((t) => t.state === LIVE) });
      return new AgeCursor(this.everything);
    }
    const bucket = this.ageIndex(plan.indexId, plan.eqFields).get(plan.eqKey);
    return bucket ? new AgeCursor(bucket) : EMPTY;
  }

  private ageIndex(id: string, fields: readonly number[]): Map<string, AgeList> {
    let index = this.ageIndexes.get(id);
    if (index) return index;
    index = new Map();
    for (const e of this.order) {
      if (e.state !== LIVE) continue;
      for (const key of keysOf(e, id, fields)) {
        let list = index.get(key);
        if (!list) index.set(key, (list = new AgeList()));
        list.items.push(e);
      }
    }
    this.ageIndexes.set(id, index);
    return index;
  }

  private rangeIndex(id: string, fields: readonly number[], field: number): Map<string, SortedList> {
    let index = this.rangeIndexes.get(id);
    if (index) return index;
    index = new Map();
    for (const e of this.order) {
      if (e.state !== LIVE) continue;
      const v = numberAt(e, field);
      for (const key of keysOf(e, id, fields)) {
        let list = index.get(key);
        if (!list) index.set(key, (list = new SortedList()));
        if (v === undefined) list.rest.items.push(e);
        else {
          list.items.push(e);
          list.vals.push(v);
        }
      }
    }
    for (const list of index.values()) sortByValue(list);
    this.rangeIndexes.set(id, index);
    return index;
  }
}

/**
 * Sorts a list by value, equal values keeping their order (oldest first): the values are sorted
 * natively (no comparator), then each ticket goes to its value's first position plus the number of
 * earlier tickets with that value.
 */
function sortByValue(list: SortedList): void {
  const n = list.items.length;
  const sorted = Float64Array.from(list.vals).sort();
  const placed = new Uint32Array(n);
  const items = new Array<TicketEntry>(n);
  for (let i = 0; i < n; i++) {
    const p = bound(sorted, list.vals[i]!, false);
    items[p + placed[p]!++] = list.items[i]!;
  }
  list.items = items;
  list.vals = Array.from(sorted);
}

function numberAt(e: TicketEntry, slot: number): number | undefined {
  const i = e.props.numSlots.indexOf(slot);
  return i < 0 ? undefined : e.props.numVals[i];
}

/** Where a ticket's search starts: its own value clamped into its window, else the window's middle or finite end. */
function centerOf(e: TicketEntry, r: RangePlan): number {
  const own = numberAt(e, r.field);
  if (own !== undefined) return Math.min(Math.max(own, r.lo), r.hi);
  if (Number.isFinite(r.lo) && Number.isFinite(r.hi)) return (r.lo + r.hi) / 2;
  return Number.isFinite(r.lo) ? r.lo : r.hi;
}
