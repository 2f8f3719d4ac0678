/**
 * The matchmaker's matching engine: a pool of waiting tickets and the pass that turns them into
 * matches, with Nakama's matchmaker semantics. Pure and transport-free: no timers (the owner calls
 * `process()` once per interval), no clock (tickets carry the caller's `createdAt`), no I/O. The
 * `matchmaker` room actor wraps one pool per queue, creates the matches and tells the users.
 *
 * A pass (`process()`):
 * 1. every waiting ticket's `intervals` goes up by one (this pass counts, as in Nakama);
 * 2. tickets search oldest first (createdAt, then insertion order). A searcher's candidates come
 *    from the pass's index (matchmaker-index.ts): the bucket of the values its query requires
 *    exactly (`+properties.mode:ranked`), and in it the window of its numeric range
 *    (`+properties.skill:>=1400 +properties.skill:<=1600`), nearest to its own value first;
 *    queries with neither scan every waiting ticket oldest first;
 * 3. candidates are taken in batches; a candidate is kept only if both queries match (the
 *    searcher's on its properties and its query on the searcher's), and, to join, it must match
 *    every member the same way, share no user or party with them and keep the counts satisfiable.
 *    In a batch, the best score of the searcher's query goes first, then the oldest;
 * 4. the largest valid match wins (see matchmaker-group.ts): a full one (n = every member's max)
 *    as soon as found, else, when every member has waited `maxIntervals`, the largest with
 *    min ≤ n ≤ max and n a multiple of every count multiple;
 * 5. matched tickets leave the pool, and so does every other ticket of their users (reported as
 *    `withdrawn`), so nobody is in two matches.
 */
import { AppError, Code, exists, invalid } from '../errors.js';
import { scoreFlat } from './match-query.js';
import { countsCompatible, GroupBuilder } from './matchmaker-group.js';
import { PassIndex } from './matchmaker-index.js';
import {
  accepts,
  PoolSymbols,
  TicketEntry,
  TicketState,
  type MatchmakerTicket,
  type MatchmakerUser,
  type TicketInput,
} from './matchmaker-ticket.js';

export type { MatchmakerTicket, MatchmakerUser, TicketInput } from './matchmaker-ticket.js';

/** Pool settings (Nakama's `matchmaker.max_intervals` and `max_tickets`). */
export interface MatchmakerPoolOptions {
  /** Intervals a ticket waits for a full match before it accepts fewer users, down to its minimum (default 2). */
  maxIntervals?: number;
  /** Tickets one user may hold at once, party tickets included (default 3). */
  maxTicketsPerUser?: number;
  /**
   * Candidates one searcher examines per pass at most (default 10,000). Only queries the index
   * cannot narrow (`*`, optional terms only, exclusions only) in pools larger than this reach it:
   * it keeps a pool of such tickets that cannot match from costing O(n²) per pass.
   */
  maxScan?: number;
}

/** One match formed by a pass; the caller creates it and notifies its users. */
export interface MatchedGroup {
  /** Oldest first: the searcher that formed the match, then the others in the order they joined. */
  readonly tickets: readonly MatchmakerTicket[];
  /** Every user of every ticket. */
  readonly users: readonly MatchmakerUser[];
  /** The number of users. */
  readonly size: number;
  /** Other tickets of these users, removed from the pool because their users are now matched. */
  readonly withdrawn: readonly MatchmakerTicket[];
}

const LIVE = TicketState.LIVE;
const older = (a: TicketEntry, b: TicketEntry) => a.createdAt - b.createdAt || a.seq - b.seq;

function checkOption(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw invalid(`Matchmaker option ${name} must be an integer of 1 or more, got ${v}.`);
  return v;
}

/** Candidates a searcher ranks at once, per user it still needs (see `search`). */
const BATCH_PER_USER = 2;

/** A matchmaker pool (one queue). Not safe to share between processes: its owner is one room actor. */
export class MatchmakerPool {
  readonly maxIntervals: number;
  readonly maxTicketsPerUser: number;
  readonly maxScan: number;
  private readonly byId = new Map<string, TicketEntry>();
  /**
   * Tickets by user, session and party. Removal only marks a ticket gone: lists drop gone tickets
   * when read, and all three maps are rebuilt once gone references outnumber waiting tickets.
   */
  private readonly byUser = new Map<string, TicketEntry[]>();
  private readonly bySession = new Map<string, TicketEntry[]>();
  private readonly byParty = new Map<string, TicketEntry[]>();
  private stale = 0;
  private readonly symbols = new PoolSymbols();
  /** Inside `process`: detaching leaves `byId` to the end of the pass. */
  private passing = false;
  /** A search's batch and its scores, reused. */
  private readonly batch: TicketEntry[] = [];
  private readonly scores: number[] = [];
  private seq = 0;
  /** Whether `byId`'s insertion order is oldest first (createdAt never went backwards). */
  private ordered = true;
  private latest = -Infinity;

  constructor(opts: MatchmakerPoolOptions = {}) {
    this.maxIntervals = checkOption('maxIntervals', opts.maxIntervals ?? 2);
    this.maxTicketsPerUser = checkOption('maxTicketsPerUser', opts.maxTicketsPerUser ?? 3);
    this.maxScan = opts.maxScan === Infinity ? Infinity : checkOption('maxScan', opts.maxScan ?? 10_000);
  }

  /** Waiting tickets. */
  get size(): number {
    return this.byId.size;
  }

  /** Waiting tickets in insertion order (oldest first after a pass). */
  tickets(): IterableIterator<MatchmakerTicket> {
    return this.byId.values();
  }

  get(ticketId: string): MatchmakerTicket | undefined {
    return this.byId.get(ticketId);
  }

  /** A user's waiting tickets, party tickets included. */
  ticketsOf(userId: string): MatchmakerTicket[] {
    return [...this.live(this.byUser, userId)];
  }

  /**
   * Adds a ticket. Throws INVALID_ARGUMENT for a bad ticket (counts, query, users, properties),
   * ALREADY_EXISTS for a taken id, RESOURCE_EXHAUSTED when one of its users holds the maximum of tickets.
   */
  add(input: TicketInput): MatchmakerTicket {
    const e = new TicketEntry(input, this.seq, this.symbols);
    if (this.byId.has(e.id)) throw exists(`Matchmaker ticket ${e.id} already exists.`);
    for (const u of e.users) {
      const held = this.live(this.byUser, u.userId).length;
      if (held >= this.maxTicketsPerUser)
        throw new AppError(
          Code.RESOURCE_EXHAUSTED,
          `Too many matchmaker tickets: user ${u.userId} already holds ${held} (the limit is ${this.maxTicketsPerUser}).`,
        );
    }
    this.seq++;
    this.byId.set(e.id, e);
    for (const u of e.users) {
      const others = this.byUser.get(u.userId);
      // Both sides are marked for good: a stale mark only costs a slower check.
      if (others && others.length > 0) for (const o of others) o.shared = e.shared = true;
      push(this.byUser, u.userId, e);
      push(this.bySession, u.sessionId, e);
    }
    if (e.partyId !== undefined) push(this.byParty, e.partyId, e);
    if (e.createdAt < this.latest) this.ordered = false;
    else this.latest = e.createdAt;
    return e;
  }

  /** Removes one ticket; false if it is not waiting. */
  remove(ticketId: string): boolean {
    const e = this.byId.get(ticketId);
    if (!e) return false;
    this.detach(e);
    return true;
  }

  /** Removes every ticket holding the user (a party's tickets too); returns them. */
  removeUser(userId: string): MatchmakerTicket[] {
    return this.detachAll(this.live(this.byUser, userId));
  }

  /** Removes every ticket holding a user through this session; returns them. */
  removeSession(sessionId: string): MatchmakerTicket[] {
    return this.detachAll(this.live(this.bySession, sessionId));
  }

  /** Removes every ticket of the party; returns them. */
  removeParty(partyId: string): MatchmakerTicket[] {
    return this.detachAll(this.live(this.byParty, partyId));
  }

  /** One interval: forms every match it can, oldest tickets first (see the file's comment). */
  process(): MatchedGroup[] {
    const order = this.ageOrder();
    for (const e of order) e.intervals++;
    const index = new PassIndex(order);
    const groups: MatchedGroup[] = [];
    // Tickets leaving during the pass are only marked; `byId` is fixed once at the end.
    this.passing = true;
    let gone = 0;
    try {
      for (const searcher of order) {
        if (searcher.state !== LIVE) continue;
        const members = this.search(searcher, index);
        if (!members) continue;
        const g = this.commit(members);
        gone += g.tickets.length + g.withdrawn.length;
        groups.push(g);
      }
    } finally {
      this.passing = false;
      if (gone * 2 > order.length) {
        this.byId.clear();
        for (const e of order) if (e.state === LIVE) this.byId.set(e.id, e);
      } else for (const e of order) if (e.state !== LIVE) this.byId.delete(e.id);
    }
    this.sweep();
    return groups;
  }

  /**
   * The match a searcher forms, if any. Candidates come nearest-first from the index in batches of
   * 2 × the users it still needs; each batch is ranked by the searcher's query score, then age, and
   * offered to the builder, until the match cannot grow or the candidates run out. So a 1v1 ticket
   * takes the older of its two nearest compatible candidates.
   */
  private search(searcher: TicketEntry, index: PassIndex): TicketEntry[] | undefined {
    const group = new GroupBuilder(searcher, this.maxIntervals);
    if (group.hopeless) return undefined;
    const cursor = index.cursor(searcher);
    const want = BATCH_PER_USER * (searcher.maxCount - searcher.size);
    const covered = searcher.plan.coveredScore;
    const { batch, scores } = this;
    let budget = this.maxScan;
    for (;;) {
      let n = 0;
      let exhausted = false;
      while (n < want) {
        const e = budget-- > 0 ? cursor.next() : undefined;
        if (!e) {
          exhausted = true;
          break;
        }
        if (e === searcher || !countsCompatible(searcher, e, this.maxIntervals) || group.conflicts(e)) continue;
        // The candidate's query first: the index already narrowed the searcher's, or even decided it.
        if (!accepts(e, searcher)) continue;
        const score = covered ?? scoreFlat(searcher.clauses, e.props);
        if (score === null) continue;
        // Insertion sort: best score first, then oldest (batches are small).
        let i = n++;
        for (; i > 0 && (scores[i - 1]! < score || (scores[i - 1] === score && older(batch[i - 1]!, e) > 0)); i--) {
          batch[i] = batch[i - 1]!;
          scores[i] = scores[i - 1]!;
        }
        batch[i] = e;
        scores[i] = score;
      }
      for (let i = 0; i < n; i++) if (group.tryAdd(batch[i]!) && group.done) return group.result();
      if (exhausted) return group.result();
    }
  }

  /** Takes a match's tickets out of the pool, and every other ticket of its users. */
  private commit(members: TicketEntry[]): MatchedGroup {
    for (const m of members) this.detach(m);
    const withdrawn: TicketEntry[] = [];
    for (const m of members)
      if (m.shared) for (const u of m.users) for (const t of [...this.live(this.byUser, u.userId)]) withdrawn.push(this.detach(t));
    const users = members.flatMap((m) => m.users);
    return { tickets: members, users, size: users.length, withdrawn };
  }

  /** Waiting tickets oldest first; re-sorts (and re-inserts) only when createdAt went backwards. */
  private ageOrder(): TicketEntry[] {
    const order = [...this.byId.values()];
    if (this.ordered) return order;
    order.sort(older);
    this.byId.clear();
    for (const e of order) this.byId.set(e.id, e);
    this.ordered = true;
    this.latest = order.length > 0 ? order[order.length - 1]!.createdAt : -Infinity;
    return order;
  }

  private detachAll(list: readonly TicketEntry[]): MatchmakerTicket[] {
    const out = [...list].map((e) => this.detach(e));
    this.sweep();
    return out;
  }

  private detach(e: TicketEntry): TicketEntry {
    e.state = TicketState.GONE;
    if (!this.passing) this.byId.delete(e.id);
    this.stale += 2 * e.users.length + (e.partyId === undefined ? 0 : 1);
    return e;
  }

  /** The waiting tickets under `key`, gone ones dropped from the list on the way. */
  private live(map: Map<string, TicketEntry[]>, key: string): readonly TicketEntry[] {
    const list = map.get(key);
    if (!list) return [];
    let w = 0;
    for (const e of list) if (e.state === LIVE) list[w++] = e;
    if (w < list.length) {
      this.stale -= list.length - w;
      list.length = w;
      if (w === 0) map.delete(key);
    }
    return list;
  }

  /** Rebuilds the user, session and party maps once they hold more gone references than waiting tickets. */
  private sweep(): void {
    if (this.stale <= 2 * this.byId.size + 1024) return;
    this.byUser.clear();
    this.bySession.clear();
    this.byParty.clear();
    for (const e of this.byId.values()) {
      for (const u of e.users) {
        push(this.byUser, u.userId, e);
        push(this.bySession, u.sessionId, e);
      }
      if (e.partyId !== undefined) push(this.byParty, e.partyId, e);
    }
    this.stale = 0;
  }
}

function push(map: Map<string, TicketEntry[]>, key: string, e: TicketEntry): void {
  const list = map.get(key);
  if (list) list.push(e);
  else map.set(key, [e]);
}
