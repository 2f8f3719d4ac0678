/**
 * A party (Nakama's party handler): its leader, members in join order, pending join requests,
 * matchmaker tickets and listing. Transport-free: connections are opaque ids (`conn`) and every
 * message, disconnection, listing change and matchmaker call goes through `PartyPorts`; the room
 * adapts it to Colyseus. Behaviour follows Nakama's party_handler.go, with one user per party.
 *
 * Party data travels as Nakama's messages only (no synchronised state): requesters are connected
 * to the room but must see nothing of the party.
 */
import { AppError, Code } from '../errors.js';
import {
  normalizeLabel,
  PartyError,
  PartyOp,
  prefixed,
  wirePresence,
  type PartyListing,
  type PartyMatchmaker,
  type PartyMatchmakerRequest,
  type PartyMember,
  type WirePresence,
} from '../services/parties.js';

/** A connection to the party: who it is, and the room's id for it. */
export interface PartyJoiner extends PartyMember {
  conn: string;
}

/** A presence named in a leader's message (`party_promote`, `party_accept`, `party_remove`). */
export interface PresenceRef {
  user_id: string;
  session_id: string;
  username?: string | undefined;
}

export interface PartyPorts {
  /** Delivers a message to some connections. */
  send(conns: readonly string[], type: string, message: unknown): void;
  /** Ends a connection to the party (removed, declined, party over). */
  disconnect(conn: string, reason: string): void;
  /** The listing changed (size, open, label). */
  listed(listing: PartyListing): void;
  /** The party is over: the room closes. */
  ended(): void;
  /** Absent: `party_matchmaker_add` answers "matchmaker not enabled". */
  matchmaker?: PartyMatchmaker | undefined;
  /** A background failure (cancelling tickets after a membership change). */
  failed(err: unknown, what: string): void;
}

export interface PartySettings {
  partyId: string;
  open: boolean;
  maxSize: number;
  /** As given by the creator (normalised here). */
  label?: string | undefined;
  hidden: boolean;
  createdAt: number;
}

/** Nakama's `party` message: what a member learns on joining. */
export interface PartyMessage {
  party_id: string;
  open: boolean;
  hidden?: boolean;
  max_size: number;
  self: WirePresence;
  leader: WirePresence;
  presences: WirePresence[];
  label: string;
}

export class PartyActor {
  readonly partyId: string;
  readonly maxSize: number;
  readonly createdAt: number;
  private open: boolean;
  private hidden: boolean;
  private label: string;
  /** Members by connection, in join order (the oldest is promoted when the leader leaves). */
  private readonly members = new Map<string, PartyJoiner>();
  /** Pending join requests by connection, in request order. */
  private readonly requests = new Map<string, PartyJoiner>();
  private leaderConn: string | undefined;
  private over = false;
  /** Live matchmaker tickets of this party: cancelled when its membership changes. */
  private readonly tickets = new Set<string>();
  /** Bumped on every membership change: a ticket asked for an older membership is withdrawn. */
  private epoch = 0;

  constructor(
    private readonly ports: PartyPorts,
    settings: PartySettings,
  ) {
    this.partyId = settings.partyId;
    this.maxSize = settings.maxSize;
    this.createdAt = settings.createdAt;
    this.open = settings.open;
    this.hidden = settings.hidden;
    this.label = prefixed(PartyOp.create, () => normalizeLabel(settings.label));
  }

  get size(): number {
    return this.members.size;
  }

  get ended(): boolean {
    return this.over;
  }

  get leader(): PartyMember | undefined {
    return this.leaderConn === undefined ? undefined : this.members.get(this.leaderConn);
  }

  isMember(conn: string): boolean {
    return this.members.has(conn);
  }

  isRequester(conn: string): boolean {
    return this.requests.has(conn);
  }

  get listing(): PartyListing {
    return {
      partyId: this.partyId,
      open: this.open,
      hidden: this.hidden,
      maxSize: this.maxSize,
      size: this.members.size,
      label: this.label,
      createdAt: this.createdAt,
    };
  }

  /** The creator joins as the first member and leader. */
  create(j: PartyJoiner): void {
    prefixed(PartyOp.create, () => {
      if (this.over) throw PartyError.closed();
      if (this.leaderConn !== undefined) throw new AppError(Code.ALREADY_EXISTS, 'party already created');
      this.leaderConn = j.conn;
      this.admit(j);
    });
  }

  /**
   * Anyone else joining (`party_join`): a member at once when the party is open and has room, a
   * requester (the leader gets `party_join_request`) when it is closed. Throws when refused.
   */
  join(j: PartyJoiner): 'member' | 'requested' {
    return prefixed(PartyOp.join, () => {
      if (this.over) throw PartyError.closed();
      if (this.leaderConn === undefined) throw PartyError.notFound();
      // One user per party (Nakama keys members by session and lets a second session in).
      for (const m of this.members.values()) if (m.userId === j.userId) throw PartyError.alreadyMember();
      for (const r of this.requests.values()) if (r.userId === j.userId) throw PartyError.requestDuplicate();
      if (this.members.size >= this.maxSize) throw PartyError.full();
      if (this.open) {
        this.admit(j);
        return 'member';
      }
      if (this.requests.size >= this.maxSize) throw PartyError.requestsFull();
      this.requests.set(j.conn, j);
      this.ports.send([this.leaderConn], 'party_join_request', { party_id: this.partyId, presences: [wirePresence(j)] });
      return 'requested';
    });
  }

  /** A connection went away for good (left, dropped past the reconnection window, kicked). */
  leave(conn: string): void {
    if (this.over) return;
    if (this.requests.delete(conn)) return;
    const m = this.members.get(conn);
    if (!m) return;
    this.members.delete(conn);
    this.membershipChanged();
    if (this.members.size === 0) {
      this.end('Party closed: its last member left.');
      return;
    }
    this.toMembers('party_presence_event', { party_id: this.partyId, leaves: [wirePresence(m)] });
    if (this.leaderConn === conn) {
      const oldest = this.members.values().next().value!;
      this.leaderConn = oldest.conn;
      this.toMembers('party_leader', { party_id: this.partyId, presence: wirePresence(oldest) });
    }
    this.ports.listed(this.listing);
  }

  promote(conn: string, target: PresenceRef): void {
    prefixed(PartyOp.promote, () => {
      this.checkLeader(conn);
      const m = this.find(this.members, target);
      if (!m) throw PartyError.notMember();
      this.leaderConn = m.conn;
      this.toMembers('party_leader', { party_id: this.partyId, presence: wirePresence(m) });
    });
  }

  accept(conn: string, target: PresenceRef): void {
    prefixed(PartyOp.accept, () => {
      this.checkLeader(conn);
      if (this.members.size >= this.maxSize) throw PartyError.full();
      const r = this.find(this.requests, target);
      if (!r) throw PartyError.notRequest();
      this.requests.delete(r.conn);
      this.admit(r);
    });
  }

  /** Kicks a member (who gets `party_close`) or declines a join request. */
  remove(conn: string, target: PresenceRef): void {
    prefixed(PartyOp.remove, () => {
      const leader = this.checkLeader(conn);
      if (leader.sessionId === target.session_id && leader.userId === target.user_id) throw PartyError.removeSelf();
      const m = this.find(this.members, target);
      if (m) {
        this.ports.send([m.conn], 'party_close', { party_id: this.partyId });
        this.leave(m.conn);
        this.ports.disconnect(m.conn, 'Removed from the party.');
        return;
      }
      const r = this.find(this.requests, target);
      if (!r) throw PartyError.notMember();
      this.requests.delete(r.conn);
      this.ports.send([r.conn], 'party_close', { party_id: this.partyId });
      this.ports.disconnect(r.conn, 'Join request declined.');
    });
  }

  /** The leader ends the party: everyone gets `party_close` and is disconnected. */
  close(conn: string): void {
    prefixed(PartyOp.close, () => {
      this.checkLeader(conn);
      this.end('Party closed by its leader.');
    });
  }

  /** Sends the leader the pending join requests (`party_join_request`). */
  joinRequests(conn: string): void {
    prefixed(PartyOp.requests, () => {
      this.checkLeader(conn);
      this.ports.send([conn], 'party_join_request', {
        party_id: this.partyId,
        presences: [...this.requests.values()].map(wirePresence),
      });
    });
  }

  /** The leader puts the whole party in the matchmaker; every member gets `party_matchmaker_ticket`. */
  async matchmakerAdd(conn: string, request: PartyMatchmakerRequest): Promise<string> {
    return prefixed(PartyOp.matchmakerAdd, async () => {
      const leader = this.checkLeader(conn);
      const matchmaker = this.ports.matchmaker;
      if (!matchmaker) throw PartyError.matchmakerDisabled();
      const epoch = this.epoch;
      const members = [...this.members.values()].map(({ userId, sessionId, username }) => ({ userId, sessionId, username }));
      const ticket = await matchmaker.addParty(
        { partyId: this.partyId, leader: { userId: leader.userId, sessionId: leader.sessionId, username: leader.username }, members },
        request,
      );
      if (this.over || epoch !== this.epoch) {
        // The party changed while the matchmaker answered: the ticket names the wrong members.
        this.cancel(matchmaker, ticket);
        throw this.over ? PartyError.closed() : new AppError(Code.ABORTED, 'party membership changed, try again');
      }
      this.tickets.add(ticket);
      this.toMembers('party_matchmaker_ticket', { party_id: this.partyId, ticket });
      return ticket;
    });
  }

  async matchmakerRemove(conn: string, ticket: string): Promise<void> {
    return prefixed(PartyOp.matchmakerRemove, async () => {
      this.checkLeader(conn);
      if (ticket === '') throw new AppError(Code.INVALID_ARGUMENT, 'Invalid matchmaker ticket');
      const matchmaker = this.ports.matchmaker;
      if (!matchmaker) throw PartyError.matchmakerDisabled();
      await matchmaker.removeParty(this.partyId, ticket);
      this.tickets.delete(ticket);
    });
  }

  /** A member's data to every other member (`party_data`). */
  data(conn: string, opCode: number, data: string | undefined): void {
    prefixed(PartyOp.data, () => {
      if (this.over) throw PartyError.closed();
      const sender = this.members.get(conn);
      if (!sender) throw PartyError.notMember();
      const others = [...this.members.keys()].filter((c) => c !== conn);
      if (others.length === 0) return;
      this.ports.send(others, 'party_data', { party_id: this.partyId, presence: wirePresence(sender), op_code: opCode, data: data ?? '' });
    });
  }

  /** The leader changes the label, open and hidden flags (Nakama 3.x `party_update`); members get `party_update`. */
  update(conn: string, change: { label: string; open: boolean; hidden: boolean }): void {
    prefixed(PartyOp.update, () => {
      if (change.hidden && change.label !== '' && change.label !== '{}') throw PartyError.hiddenLabel();
      this.checkLeader(conn);
      const label = normalizeLabel(change.label);
      this.label = label;
      this.open = change.open;
      this.hidden = change.hidden;
      this.toMembers('party_update', { party_id: this.partyId, open: change.open, hidden: change.hidden, label });
      this.ports.listed(this.listing);
    });
  }

  /** The room is going away (shutdown, disposal): live tickets are withdrawn. */
  dispose(): void {
    this.over = true;
    this.cancelTickets();
  }

  private admit(j: PartyJoiner): void {
    this.members.set(j.conn, j);
    this.membershipChanged();
    const leader = this.leader!;
    const presences = [...this.members.values()].map(wirePresence);
    const welcome: PartyMessage = {
      party_id: this.partyId,
      open: this.open,
      ...(this.hidden ? { hidden: true } : {}),
      max_size: this.maxSize,
      self: wirePresence(j),
      leader: wirePresence(leader),
      presences,
      label: this.label,
    };
    this.ports.send([j.conn], 'party', welcome);
    // As Nakama's tracker does, every member hears of the join, the joiner included.
    this.toMembers('party_presence_event', { party_id: this.partyId, joins: [wirePresence(j)] });
    this.ports.listed(this.listing);
  }

  private end(reason: string): void {
    const everyone = [...this.members.keys(), ...this.requests.keys()];
    if (everyone.length > 0) this.ports.send(everyone, 'party_close', { party_id: this.partyId });
    this.members.clear();
    this.requests.clear();
    this.leaderConn = undefined;
    this.dispose();
    for (const conn of everyone) this.ports.disconnect(conn, reason);
    this.ports.ended();
  }

  private checkLeader(conn: string): PartyJoiner {
    if (this.over) throw PartyError.closed();
    if (this.leaderConn !== conn) throw PartyError.notLeader();
    return this.members.get(conn)!;
  }

  private find(from: Map<string, PartyJoiner>, target: PresenceRef): PartyJoiner | undefined {
    for (const j of from.values()) {
      if (j.sessionId === target.session_id && j.userId === target.user_id) return j;
    }
    return undefined;
  }

  private toMembers(type: string, message: unknown): void {
    this.ports.send([...this.members.keys()], type, message);
  }

  private membershipChanged(): void {
    this.epoch++;
    this.cancelTickets();
  }

  private cancelTickets(): void {
    const matchmaker = this.ports.matchmaker;
    if (!matchmaker || this.tickets.size === 0) return;
    for (const ticket of this.tickets) this.cancel(matchmaker, ticket);
    this.tickets.clear();
  }

  private cancel(matchmaker: PartyMatchmaker, ticket: string): void {
    Promise.resolve()
      .then(() => matchmaker.removeParty(this.partyId, ticket))
      .catch((err: unknown) => this.ports.failed(err, `withdrawing matchmaker ticket ${ticket}`));
  }
}
