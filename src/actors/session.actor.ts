/**
 * A connected session's presence: online status, the statuses it follows, and its live
 * notifications. Transport-free: it talks to the world through `SessionPorts` (Presence-shaped
 * pub/sub and key/set storage, and a `send` to its own client), so every process sees the same
 * statuses whether presence is local or Redis.
 */
import { userChannel } from '../services/notifications.js';

/** The Presence calls the actor needs (Colyseus's `Presence` satisfies it). */
export interface PresenceStore {
  subscribe(topic: string, cb: (data: unknown) => void): Promise<unknown>;
  unsubscribe(topic: string, cb?: (data: unknown) => void): unknown;
  publish(topic: string, data: unknown): unknown;
  sadd(key: string, value: string): unknown;
  srem(key: string, value: string): unknown;
  smembers(key: string): Promise<string[]>;
  set(key: string, value: string): unknown;
  get(key: string): Promise<string | null> | string | null;
  del(key: string): unknown;
}

export interface SessionPorts {
  presence: PresenceStore;
  /** Sends a message to this session's client. */
  send(type: string, message: unknown): void;
  /** Reports a failure in a callback the transport cannot see. */
  onError(err: unknown): void;
}

export interface SessionIdentity {
  userId: string;
  username: string;
  sessionId: string;
}

/** A user's status as followers see it (Nakama's `UserPresence`). */
export interface StatusPresence {
  user_id: string;
  session_id: string;
  username: string;
  status?: string;
}

/** Published on `status:<userId>` and sent to followers as `status_presence_event`. */
export interface StatusPresenceEvent {
  joins?: StatusPresence[];
  leaves?: StatusPresence[];
}

export const MAX_STATUS_BYTES = 2048;

/**
 * A message for one session of a user, published on the user's channel (`userChannel`) from any
 * process: the session's room sends it to its client as `messageType` (how the matchmaker reaches
 * the sessions it matched, wherever they are connected).
 */
export interface SessionMessageEvent {
  type: 'session_message';
  sessionId: string;
  messageType: string;
  body: unknown;
}

/** The event that delivers `body` as a `messageType` message to session `sessionId`. */
export const sessionMessage = (sessionId: string, messageType: string, body: unknown): SessionMessageEvent => ({
  type: 'session_message',
  sessionId,
  messageType,
  body,
});

export const onlineKey = (userId: string) => `online:${userId}`;
export const statusKey = (userId: string, sessionId: string) => `status:${userId}:${sessionId}`;
export const statusChannel = (userId: string) => `status:${userId}`;
/** Where a new session of a user tells the older ones to close (single socket mode). */
export const singleSocketChannel = (userId: string) => `single-socket:${userId}`;

export class SessionActor {
  private visible = false;
  private status: string | undefined;
  private readonly followed = new Set<string>();
  private readonly onStatus = (data: unknown) => this.guard(() => this.ports.send('status_presence_event', data));
  private readonly onUserEvent = (data: unknown) =>
    this.guard(() => {
      const event = data as Partial<Omit<SessionMessageEvent, 'type'>> & { type?: string; notifications?: unknown };
      if (event?.type === 'notifications') this.ports.send('notifications', { notifications: event.notifications });
      else if (event?.type === 'session_message' && event.sessionId === this.identity.sessionId && typeof event.messageType === 'string') {
        this.ports.send(event.messageType, event.body);
      }
    });

  constructor(
    private readonly ports: SessionPorts,
    readonly identity: SessionIdentity,
  ) {}

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ports.onError(err);
    }
  }

  private presence(): StatusPresence {
    const { userId, sessionId, username } = this.identity;
    return { user_id: userId, session_id: sessionId, username, ...(this.status !== undefined ? { status: this.status } : {}) };
  }

  /** Starts delivering notifications and, unless hidden, appears online. */
  async start(hidden: boolean): Promise<void> {
    await this.ports.presence.subscribe(userChannel(this.identity.userId), this.onUserEvent);
    if (!hidden) await this.appear();
  }

  private async appear(): Promise<void> {
    const { userId, sessionId } = this.identity;
    this.visible = true;
    await this.ports.presence.set(statusKey(userId, sessionId), JSON.stringify(this.presence()));
    await this.ports.presence.sadd(onlineKey(userId), sessionId);
    const event: StatusPresenceEvent = { joins: [this.presence()] };
    await this.ports.presence.publish(statusChannel(userId), event);
  }

  private async disappear(): Promise<void> {
    const { userId, sessionId } = this.identity;
    if (!this.visible) return;
    this.visible = false;
    await this.ports.presence.srem(onlineKey(userId), sessionId);
    await this.ports.presence.del(statusKey(userId, sessionId));
    const event: StatusPresenceEvent = { leaves: [this.presence()] };
    await this.ports.presence.publish(statusChannel(userId), event);
  }

  /**
   * Nakama's `status_update`: with a status the session appears online with it (followers get a
   * join carrying it); without one it appears offline (followers get a leave).
   */
  async updateStatus(status: string | undefined): Promise<void> {
    if (status === undefined) {
      await this.disappear();
      this.status = undefined;
      return;
    }
    this.status = status;
    if (!this.visible) return this.appear();
    const { userId, sessionId } = this.identity;
    await this.ports.presence.set(statusKey(userId, sessionId), JSON.stringify(this.presence()));
    const event: StatusPresenceEvent = { joins: [this.presence()] };
    await this.ports.presence.publish(statusChannel(userId), event);
  }

  /** Follows users' statuses; returns the presences they have now (Nakama's `status`). */
  async follow(userIds: readonly string[]): Promise<StatusPresence[]> {
    const current: StatusPresence[] = [];
    for (const id of userIds) {
      if (id === this.identity.userId) continue;
      if (!this.followed.has(id)) {
        this.followed.add(id);
        await this.ports.presence.subscribe(statusChannel(id), this.onStatus);
      }
      current.push(...(await this.presencesOf(id)));
    }
    return current;
  }

  async unfollow(userIds: readonly string[]): Promise<void> {
    for (const id of userIds) {
      if (!this.followed.delete(id)) continue;
      await this.ports.presence.unsubscribe(statusChannel(id), this.onStatus);
    }
  }

  /** The visible sessions of a user, with their statuses. */
  private async presencesOf(userId: string): Promise<StatusPresence[]> {
    const out: StatusPresence[] = [];
    for (const sid of await this.ports.presence.smembers(onlineKey(userId))) {
      const raw = await this.ports.presence.get(statusKey(userId, sid));
      if (!raw) continue;
      try {
        out.push(JSON.parse(raw) as StatusPresence);
      } catch {
        // A malformed entry is skipped; the owner rewrites it on its next update.
      }
    }
    return out;
  }

  /** Stops everything: unfollows, stops notifications, appears offline. */
  async stop(): Promise<void> {
    await this.unfollow([...this.followed]);
    await this.ports.presence.unsubscribe(userChannel(this.identity.userId), this.onUserEvent);
    await this.disappear();
  }
}

/**
 * Takes a session offline on behalf of a process that died without doing it (a survivor calls this
 * for every session room the dead process hosted): it leaves the user's online set, its status
 * entry goes, and followers get the leave they would have got from `stop()`.
 */
export async function sweepSession(presence: PresenceStore, userId: string, sessionId: string): Promise<void> {
  const raw = await presence.get(statusKey(userId, sessionId));
  await presence.srem(onlineKey(userId), sessionId);
  if (!raw) return;
  await presence.del(statusKey(userId, sessionId));
  let left: StatusPresence;
  try {
    left = JSON.parse(raw) as StatusPresence;
  } catch {
    left = { user_id: userId, session_id: sessionId, username: '' };
  }
  const event: StatusPresenceEvent = { leaves: [left] };
  await presence.publish(statusChannel(userId), event);
}
