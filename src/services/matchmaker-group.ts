/**
 * Forming one match around a searching ticket: which candidates may join it (queries both ways with
 * every member, no shared user or party) and when its user count is acceptable to every member.
 *
 * Count rules, for a match of n users and every member ticket t: t.minCount ≤ n ≤ t.maxCount,
 * n % t.countMultiple = 0, and n = t.maxCount unless t has waited `maxIntervals` intervals (then it
 * accepts fewer). The builder only appends; it remembers the longest prefix of members that is a
 * valid match and stops as soon as no valid match can be larger.
 */
import { accepts, type TicketEntry } from './matchmaker-ticket.js';

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The count constraints of a set of tickets. */
interface Counts {
  /** Users so far. */
  n: number;
  /** The smallest maxCount. */
  cap: number;
  /** The largest minCount. */
  floor: number;
  /** The lcm of the count multiples (capped: anything above `cap` is infeasible anyway). */
  step: number;
  /** The maxCount every ticket still waiting for a full match insists on, if any. */
  exact: number | undefined;
}

/** Whether some final user count ≥ c.n satisfies c. */
function feasible(c: Counts): boolean {
  const lo = Math.max(c.n, c.floor);
  if (c.exact !== undefined) return c.exact <= c.cap && c.exact >= lo && c.exact % c.step === 0;
  return Math.ceil(lo / c.step) * c.step <= c.cap;
}

/** Whether exactly c.n users satisfies c. */
const valid = (c: Counts): boolean => c.n >= c.floor && c.n <= c.cap && c.n % c.step === 0 && (c.exact === undefined || c.n === c.exact);

/** Both tickets' queries match the other's properties. */
export function mutual(a: TicketEntry, b: TicketEntry): boolean {
  return accepts(a, b) && accepts(b, a);
}

/** Whether two tickets could ever share a match on counts alone (cheap, before the queries). */
export function countsCompatible(a: TicketEntry, b: TicketEntry, maxIntervals: number): boolean {
  if (a.size + b.size > Math.min(a.maxCount, b.maxCount)) return false;
  if (Math.max(a.minCount, b.minCount) > Math.min(a.maxCount, b.maxCount)) return false;
  const aFull = a.intervals < maxIntervals;
  const bFull = b.intervals < maxIntervals;
  if (aFull && bFull) return a.maxCount === b.maxCount;
  if (aFull) return a.maxCount <= b.maxCount && a.maxCount >= b.minCount;
  if (bFull) return b.maxCount <= a.maxCount && b.maxCount >= a.minCount;
  return true;
}

/** One match being formed around a searcher; candidates must already be mutual with the searcher. */
export class GroupBuilder {
  readonly members: TicketEntry[];
  /** Users of members whose users hold other tickets: nobody else can clash (TicketEntry.shared). */
  private users: Set<string> | undefined;
  private readonly parties: string[] = [];
  private c: Counts;
  /** Members[0, validLength) form a valid match; 0 when none does yet. */
  private validLength = 0;

  constructor(
    searcher: TicketEntry,
    private readonly maxIntervals: number,
  ) {
    this.members = [searcher];
    this.join(searcher);
    this.c = {
      n: searcher.size,
      cap: searcher.maxCount,
      floor: searcher.minCount,
      step: searcher.countMultiple,
      exact: searcher.intervals < maxIntervals ? searcher.maxCount : undefined,
    };
    if (valid(this.c)) this.validLength = 1;
  }

  /** Whether `e` shares a user or party with a member. */
  conflicts(e: TicketEntry): boolean {
    if (e.partyId !== undefined && this.parties.includes(e.partyId)) return true;
    if (!e.shared || !this.users) return false;
    for (const u of e.users) if (this.users.has(u.userId)) return true;
    return false;
  }

  private join(e: TicketEntry): void {
    if (e.partyId !== undefined) this.parties.push(e.partyId);
    if (e.shared) for (const u of e.users) (this.users ??= new Set()).add(u.userId);
  }

  /** Adds `e` if it fits (users, queries with every member but the searcher, counts); says whether it did. */
  tryAdd(e: TicketEntry): boolean {
    const c = this.c;
    if (c.n + e.size > Math.min(c.cap, e.maxCount)) return false;
    let exact = c.exact;
    if (e.intervals < this.maxIntervals) {
      if (exact !== undefined && exact !== e.maxCount) return false;
      exact = e.maxCount;
    }
    const cap = Math.min(c.cap, e.maxCount);
    const step = Math.min((c.step / gcd(c.step, e.countMultiple)) * e.countMultiple, cap + 1);
    const next: Counts = { n: c.n + e.size, cap, floor: Math.max(c.floor, e.minCount), step, exact };
    if (!feasible(next) || this.conflicts(e)) return false;
    for (let i = 1; i < this.members.length; i++) if (!mutual(this.members[i]!, e)) return false;
    this.members.push(e);
    this.join(e);
    this.c = next;
    if (valid(next)) this.validLength = this.members.length;
    return true;
  }

  /** The match is valid and no valid match can be larger: stop looking. */
  get done(): boolean {
    const c = this.c;
    return this.members.length >= 2 && this.validLength === this.members.length && (c.exact !== undefined || c.n + c.step > c.cap);
  }

  /** Whether nobody can join the searcher (a ticket never matches alone): skip it this pass. */
  get hopeless(): boolean {
    return this.c.n >= this.c.cap || !feasible({ ...this.c, n: this.c.n + 1 });
  }

  /** The largest valid match found, or undefined. */
  result(): TicketEntry[] | undefined {
    return this.validLength >= 2 ? this.members.slice(0, this.validLength) : undefined;
  }
}
