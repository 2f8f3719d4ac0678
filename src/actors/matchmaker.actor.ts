/**
 * One matchmaker queue, transport-free: the pool of waiting tickets (src/services/matchmaker-pool.ts),
 * the lease that makes this the only place the queue forms matches, the copy of every ticket in
 * the shared store (so another process rebuilds the queue after a crash), per-user claims (so a
 * user waiting in two queues lands in one match), and the queue's stats.
 *
 * Every call that touches the pool first makes sure this queue holds the lease, loading the
 * stored tickets when it takes it; a queue that cannot get the lease answers UNAVAILABLE and
 * reports `lost`, and its room closes. Matches formed are handed to `ports.formed`, which creates
 * the match and tells the users.
 */
import { AppError, Code } from '../errors.js';
import { MatchmakerPool, type MatchedGroup, type MatchmakerTicket, type TicketInput } from '../services/matchmaker-pool.js';
import type { MatchmakerStore, QueueStats } from '../services/matchmaker-store.js';

export interface MatchmakerPorts {
  store: MatchmakerStore;
  /** Seats a formed match's users (hook, match creation, `matchmaker_matched`). */
  formed(group: MatchedGroup): Promise<void>;
  /** Tells the other queues these users were matched here (their tickets there go). */
  usersMatched(userIds: string[]): void;
  now(): number;
  onError(err: unknown, what: string): void;
  /** Which of these sessions are still connected somewhere in the fleet. */
  liveSessions(sessionIds: string[]): Promise<Set<string>>;
}

export interface MatchmakerOptions {
  queue: string;
  /** This queue instance's lease identity. */
  holder: string;
  intervalMs: number;
  maxIntervals: number;
  maxTicketsPerUser: number;
}

/** How many recent completions the stats keep. */
const COMPLETIONS = 100;

export class MatchmakerActor {
  private pool: MatchmakerPool;
  private leased = false;
  private lost = false;
  private readonly completions: QueueStats['completions'] = [];

  constructor(
    private readonly ports: MatchmakerPorts,
    private readonly opts: MatchmakerOptions,
  ) {
    this.pool = this.newPool();
  }

  private newPool(): MatchmakerPool {
    return new MatchmakerPool({ maxIntervals: this.opts.maxIntervals, maxTicketsPerUser: this.opts.maxTicketsPerUser });
  }

  /** A lease outlives a few missed intervals, never less than 5 s (a GC pause is not a crash). */
  private get leaseMs(): number {
    return Math.max(5000, this.opts.intervalMs * 3);
  }

  get size(): number {
    return this.pool.size;
  }

  /** True once another instance took the queue: this one must close. */
  get closed(): boolean {
    return this.lost;
  }

  /** Takes or renews the lease; on taking it, rebuilds the pool from the store. */
  private async lease(): Promise<boolean> {
    if (this.lost) return false;
    const had = this.leased;
    this.leased = await this.ports.store.acquireLease(this.opts.queue, this.opts.holder, this.leaseMs);
    if (had && !this.leased) this.lost = true;
    if (this.leased && !had) await this.load();
    return this.leased;
  }

  private async mustLease(): Promise<void> {
    if (!(await this.lease())) throw new AppError(Code.UNAVAILABLE, 'Matchmaker queue is moving to another process; try again.');
  }

  private async load(): Promise<void> {
    this.pool = this.newPool();
    const stale: string[] = [];
    const inputs: [string, TicketInput][] = [];
    for (const [id, raw] of await this.ports.store.loadTickets(this.opts.queue)) {
      try {
        inputs.push([id, JSON.parse(raw) as TicketInput]);
      } catch {
        stale.push(id);
      }
    }
    // Tickets whose sessions ended while no instance held the queue (the holder crashed with
    // them, or the events of their end went unheard during a takeover) are dropped, not revived.
    const live = await this.ports.liveSessions([...new Set(inputs.flatMap(([, t]) => t.users.map((u) => u.sessionId)))]);
    for (const [id, input] of inputs) {
      if (!input.users.every((u) => live.has(u.sessionId))) {
        stale.push(id);
        continue;
      }
      try {
        this.pool.add(input);
      } catch {
        stale.push(id);
      }
    }
    if (stale.length > 0) await this.ports.store.removeTickets(this.opts.queue, stale);
  }

  /** Opens a ticket (validated by the pool); returns it. */
  async add(input: Omit<TicketInput, 'createdAt' | 'intervals'>): Promise<MatchmakerTicket> {
    await this.mustLease();
    const ticket = this.pool.add({ ...input, createdAt: this.ports.now() });
    try {
      await this.ports.store.saveTicket(this.opts.queue, ticket.id, JSON.stringify(inputOf(ticket)));
    } catch (err) {
      this.pool.remove(ticket.id);
      throw err;
    }
    return ticket;
  }

  /** Removes a ticket its owner holds: a party's ticket by the party, another by one of its sessions. */
  async remove(ticketId: string, owner: { sessionId?: string | undefined; partyId?: string | undefined }): Promise<void> {
    await this.mustLease();
    const t = this.pool.get(ticketId);
    const owns =
      t !== undefined &&
      (owner.partyId !== undefined
        ? t.partyId === owner.partyId
        : t.partyId === undefined && t.users.some((u) => u.sessionId === owner.sessionId));
    if (!owns) throw new AppError(Code.NOT_FOUND, 'Matchmaker ticket not found.');
    this.pool.remove(ticketId);
    await this.ports.store.removeTickets(this.opts.queue, [ticketId]);
  }

  /** Tickets that must go wherever they wait (a session ended, a party changed, users matched elsewhere). */
  async drop(what: { sessionId: string } | { partyId: string } | { userIds: readonly string[] }): Promise<void> {
    if (!this.leased) return;
    let gone: MatchmakerTicket[];
    if ('sessionId' in what) gone = this.pool.removeSession(what.sessionId);
    else if ('partyId' in what) gone = this.pool.removeParty(what.partyId);
    else gone = what.userIds.flatMap((id) => this.pool.removeUser(id));
    if (gone.length > 0)
      await this.ports.store.removeTickets(
        this.opts.queue,
        gone.map((t) => t.id),
      );
  }

  /** One interval: renew the lease, form matches, publish stats. */
  async tick(): Promise<void> {
    if (!(await this.lease())) return;
    const groups = this.pool.process();
    for (const group of groups) {
      try {
        await this.settle(group);
      } catch (err) {
        this.ports.onError(err, 'seating a formed match');
      }
    }
    await this.ports.store.publishStats(this.stats());
  }

  /** Claims a formed match's users; on success the match is theirs, else its tickets wait on. */
  private async settle(group: MatchedGroup): Promise<void> {
    const userIds = group.users.map((u) => u.userId);
    const claim = `${this.opts.holder}:${group.tickets[0]!.id}`;
    if (!(await this.ports.store.claimUsers(userIds, claim, Math.max(10_000, this.opts.intervalMs * 2)))) {
      // A user was just matched by another queue: its `remove_users` event takes that user's
      // tickets out; the others wait for the next interval.
      for (const t of group.tickets) this.pool.add(inputOf(t));
      return;
    }
    await this.ports.store.removeTickets(
      this.opts.queue,
      [...group.tickets, ...group.withdrawn].map((t) => t.id),
    );
    this.ports.usersMatched(userIds);
    const now = this.ports.now();
    for (const t of group.tickets) this.completions.push({ createMs: t.createdAt, completeMs: now });
    if (this.completions.length > COMPLETIONS) this.completions.splice(0, this.completions.length - COMPLETIONS);
    try {
      await this.ports.formed(group);
    } finally {
      // The claim only guards the forming: once every queue was told (`usersMatched`) and the users
      // were announced, they may queue and match again at once.
      await this.ports.store.releaseUsers(userIds, claim);
    }
  }

  stats(): QueueStats {
    let oldest: number | undefined;
    for (const t of this.pool.tickets()) if (oldest === undefined || t.createdAt < oldest) oldest = t.createdAt;
    return {
      queue: this.opts.queue,
      ticketCount: this.pool.size,
      ...(oldest !== undefined ? { oldestTicketMs: oldest } : {}),
      completions: [...this.completions],
      atMs: this.ports.now(),
    };
  }

  /** Gives the lease back (the room is closing; the tickets stay in the store for the next owner). */
  async stop(): Promise<void> {
    if (this.leased) await this.ports.store.releaseLease(this.opts.queue, this.opts.holder);
    this.leased = false;
  }
}

/** The stored (and re-addable) form of a ticket. */
function inputOf(t: MatchmakerTicket): TicketInput {
  return {
    id: t.id,
    users: t.users,
    partyId: t.partyId,
    stringProperties: t.stringProperties,
    numericProperties: t.numericProperties,
    query: t.query,
    minCount: t.minCount,
    maxCount: t.maxCount,
    countMultiple: t.countMultiple,
    createdAt: t.createdAt,
    intervals: t.intervals,
  };
}
