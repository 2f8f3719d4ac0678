/**
 * A relayed match (Nakama's client-created match): the server only keeps the presences and
 * forwards each member's data to the others, or to the members it names. Transport-free: it
 * owns its `MatchState` and delivers through a `send` port.
 */
import type { Presence } from '../hooks/types.js';
import { MatchMembers, MatchState, wirePresence, type MatchMessage, type MatchSend } from './match-members.js';

/** A `match_data_send` as the room validated it. */
export interface MatchDataInput {
  op_code: number;
  /** Base64 of the bytes, as Nakama's JSON carries them; relayed untouched. */
  data?: string | undefined;
  /** Target session ids; absent sends to every other member. */
  presences?: readonly string[] | undefined;
  reliable?: boolean | undefined;
}

export class RelayedMatch {
  readonly authoritative = false;
  readonly state = new MatchState();
  private readonly members: MatchMembers;

  constructor(
    readonly matchId: string,
    private readonly ports: { send: MatchSend },
  ) {
    this.members = new MatchMembers(matchId, ports.send, this.state.presences);
  }

  get size(): number {
    return this.members.size;
  }

  has(sessionId: string): boolean {
    return this.members.has(sessionId);
  }

  /** Adds a member: the others get a presence event; `welcome` gets the joiner's `match` message first. */
  join(p: Presence, welcome: (m: MatchMessage) => void): void {
    this.members.add(p);
    welcome(this.members.matchMessage(p, false));
  }

  leave(sessionId: string): void {
    this.members.remove(sessionId);
  }

  /** Forwards a member's data to the others (never back to the sender), or only to the named members. */
  data(senderSessionId: string, input: MatchDataInput): void {
    const sender = this.members.get(senderSessionId);
    if (!sender) return;
    const message = {
      match_id: this.matchId,
      presence: wirePresence(sender),
      op_code: input.op_code,
      data: input.data ?? '',
      reliable: input.reliable ?? true,
    };
    if (input.presences === undefined) {
      this.ports.send('match_data', message, { except: senderSessionId });
      return;
    }
    const to = [...new Set(input.presences)].filter((sid) => sid !== senderSessionId && this.members.has(sid));
    if (to.length > 0) this.ports.send('match_data', message, { to });
  }
}
