/**
 * Who is in a match, shared by the relayed match and the authoritative runner: the presences by
 * session id, their synchronised copy in the room state (when the match uses Tavern's own
 * state), and the `match_presence_event` messages the others get on each join and leave.
 */
import { MapSchema, schema, t } from '@colyseus/schema';
import type { Presence } from '../hooks/types.js';

/** A presence in the synchronised state. */
export const MatchPresenceState = schema(
  {
    userId: t.string(),
    sessionId: t.string(),
    username: t.string(),
  },
  'MatchPresence',
);
export type MatchPresenceState = InstanceType<typeof MatchPresenceState>;

/** The room state of relayed matches and of authoritative ones whose handler keeps its state private. */
export const MatchState = schema({ presences: t.map(MatchPresenceState) }, 'MatchState');
export type MatchState = InstanceType<typeof MatchState>;

/** Nakama's `UserPresence` on the wire. */
export interface WirePresence {
  user_id: string;
  session_id: string;
  username: string;
}

export const wirePresence = (p: Presence): WirePresence => ({ user_id: p.userId, session_id: p.sessionId, username: p.username });

/** Nakama's `match` message: what a joiner learns about the match. */
export interface MatchMessage {
  match_id: string;
  authoritative: boolean;
  label?: string;
  size: number;
  presences: WirePresence[];
  self: WirePresence;
}

/** Delivers a message to some sessions of the match (`to`), or to all of them but `except`. */
export type MatchSend = (type: string, message: unknown, target: { to?: readonly string[]; except?: string }) => void;

export class MatchMembers {
  private readonly bySession = new Map<string, Presence>();

  constructor(
    private readonly matchId: string,
    private readonly send: MatchSend,
    /** The synchronised presences, when the room state is a `MatchState`. */
    private readonly synced?: MapSchema<MatchPresenceState>,
  ) {}

  get size(): number {
    return this.bySession.size;
  }

  has(sessionId: string): boolean {
    return this.bySession.has(sessionId);
  }

  get(sessionId: string): Presence | undefined {
    return this.bySession.get(sessionId);
  }

  list(): Presence[] {
    return [...this.bySession.values()];
  }

  /** Adds a presence and tells the others. */
  add(p: Presence): void {
    this.bySession.set(p.sessionId, p);
    this.synced?.set(p.sessionId, new MatchPresenceState({ userId: p.userId, sessionId: p.sessionId, username: p.username }));
    if (this.bySession.size > 1)
      this.send('match_presence_event', { match_id: this.matchId, joins: [wirePresence(p)] }, { except: p.sessionId });
  }

  /** Removes a presence and tells the others; undefined when it was not here. */
  remove(sessionId: string): Presence | undefined {
    const p = this.bySession.get(sessionId);
    if (!p) return undefined;
    this.bySession.delete(sessionId);
    this.synced?.delete(sessionId);
    if (this.bySession.size > 0) this.send('match_presence_event', { match_id: this.matchId, leaves: [wirePresence(p)] }, {});
    return p;
  }

  /** The `match` message for a member that just joined. */
  matchMessage(self: Presence, authoritative: boolean, label?: string): MatchMessage {
    return {
      match_id: this.matchId,
      authoritative,
      ...(label !== undefined ? { label } : {}),
      size: this.bySession.size,
      presences: this.list().map(wirePresence),
      self: wirePresence(self),
    };
  }
}
