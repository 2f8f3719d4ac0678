/**
 * One room per connected session (`client.create('session')`). Its id is derived from the
 * session id, so finding or creating it is O(1) and a second connection of the same session finds
 * the first one's room (full) instead of making another. The room is a thin adapter over the
 * session actor: status, follows and live notifications live there.
 */
import { schema, t } from '@colyseus/schema';
import type { Client, IRoomCache } from '@colyseus/core';
import { z } from 'zod';
import { MAX_STATUS_BYTES, SessionActor, singleSocketChannel, sweepSession, type PresenceStore } from '../actors/session.actor.js';
import { AppError, Code } from '../errors.js';
import { NotificationCode } from '../services/notifications.js';
import { getUsers } from '../services/users.js';
import * as v from '../services/validation.js';
import { RealtimeCode, RealtimeError, tableHandler, TavernRoom, type ClientAuth, type MessageTable } from './base.room.js';
import { reserveMatchSeat, reserveTokenSeat } from './match-seats.js';
import { sessionRoomId } from './room-ids.js';
import { QUIET_TICK_MS, RoomTicker } from './room-ticker.js';
import { addTicket, removeTicket, sessionEnded, TicketFields, TicketRemove } from './matchmaker-client.js';
import { withEncodeBuffers } from './compact-state.js';

/** `ping`: any JSON object (or nothing); answered with a `pong` carrying the same fields. */
export const PingMessage = z.looseObject({}).optional();

/** `rpc`: call a registered RPC; answered with an `rpc` message `{ id, payload }`. */
export const RpcMessage = z.object({ id: z.string().min(1).max(128), payload: z.string().optional() });

/** `status_update`: a status shows the session online with it; none makes it appear offline. */
export const StatusUpdateMessage = z.object({
  status: z
    .string()
    .refine((x) => Buffer.byteLength(x) <= MAX_STATUS_BYTES, `Status must be at most ${MAX_STATUS_BYTES} bytes.`)
    .optional(),
});

/** `status_follow` by user ids and/or usernames; answered with `status` (their current presences). */
export const StatusFollowMessage = z.object({
  user_ids: z.array(v.uuid).max(1000).optional(),
  usernames: z.array(z.string().min(1).max(128)).max(1000).optional(),
});

export const StatusUnfollowMessage = z.object({ user_ids: z.array(v.uuid).max(1000) });

/**
 * `match_join` by match id: answered with `match_reservation` `{ match_id, reservation }`, a seat
 * the client takes with `client.consumeSeatReservation(reservation)` (authoritative matches ask
 * their handler then, with `metadata`).
 */
export const MatchJoinMessage = z
  .object({
    match_id: z.string().min(1).max(128).optional(),
    /** A matchmaker token (from `matchmaker_matched`) instead of a match id. */
    token: z.string().min(1).max(4096).optional(),
    metadata: z.record(z.string().max(128), z.string().max(2048)).optional(),
  })
  .refine((m) => (m.match_id === undefined) !== (m.token === undefined), 'match_join needs either match_id or token.');

/** Options a client may pass to `create('session', …)`. */
const JoinOptions = z.looseObject({ hidden: z.boolean().optional() });

/** What the client sees of its session. */
export const SessionState = schema(
  {
    userId: t.string(),
    username: t.string(),
    sessionId: t.string(),
  },
  'SessionState',
);
export type SessionState = InstanceType<typeof SessionState>;

/** Encode buffer size of a session room's state (user id, username ≤ 128 characters, session id). */
const SESSION_STATE_BUFFER_BYTES = 1024;

/** Close code for a session closed because a newer session of the same user connected. */
export const CLOSE_SINGLE_SOCKET = 4409;

export { sessionRoomId };

/** The metadata of a session room's listing. */
export interface SessionListing {
  userId: string;
}

/** Takes offline the session of a session room listing whose process died. */
export async function sweepSessionListing(presence: PresenceStore, room: IRoomCache): Promise<boolean> {
  const userId = (room.metadata as Partial<SessionListing> | undefined)?.userId;
  if (room.name !== 'session' || typeof userId !== 'string' || !room.roomId.startsWith('session_')) return false;
  const sessionId = room.roomId.slice('session_'.length);
  await sweepSession(presence, userId, sessionId);
  await sessionEnded(presence, sessionId);
  return true;
}

export class SessionRoom extends TavernRoom {
  override maxClients = 1;
  // Nothing changes often here: send state changes when they happen, not on a 50 ms timer.
  override patchRate = null;
  // As often as the shared ticker ticks this room's clock.
  protected override flowCheckIntervalMs = QUIET_TICK_MS;
  private sessionId = '';
  private actor: SessionActor | undefined;
  private readonly onSingleSocket = (data: unknown) => {
    const other = (data as { sessionId?: unknown })?.sessionId;
    if (typeof other !== 'string' || other === this.sessionId) return;
    for (const client of this.clients) {
      client.send('notifications', {
        notifications: [
          {
            subject: 'Another device logged in.',
            content: '{}',
            code: NotificationCode.SINGLE_SOCKET,
            create_time: new Date().toISOString(),
          },
        ],
      });
      client.leave(CLOSE_SINGLE_SOCKET, 'Another session of this user connected.');
    }
  };

  /** The session's identity comes from the verified token, never from what the client sent. */
  static prepareOptions(options: Record<string, unknown>, auth: ClientAuth): void {
    options.sid = auth.sid;
    options.uid = auth.userId;
    options.un = auth.username;
  }

  constructor() {
    super();
    // No timer of its own (Colyseus would tick this room's clock at 60 Hz): the shared ticker does.
    RoomTicker.optOut(this);
  }

  override onCreate(options: { sid?: unknown; uid?: unknown; un?: unknown }): void {
    if (typeof options.sid !== 'string' || typeof options.uid !== 'string' || typeof options.un !== 'string')
      throw new Error('session room needs a verified session');
    this.sessionId = options.sid;
    this.roomId = sessionRoomId(options.sid);
    // Listed with the room before it is recorded (no extra write): a survivor that sweeps this
    // process after a crash takes the session offline with it (see `sweepSessionListing`).
    void this.setMetadata({ userId: options.uid } satisfies SessionListing, false);
    void this.setPrivate(true, false);
    // Three short strings, set once: 1 KB encode buffers instead of Colyseus's 2 × 16 KB.
    withEncodeBuffers(SESSION_STATE_BUFFER_BYTES, () => {
      this.state = new SessionState().assign({
        userId: options.uid as string,
        username: options.un as string,
        sessionId: options.sid as string,
      });
    });
    this.deps.ticker.add(this);
    this.handleTable(SessionRoom.messages);
  }

  /** Declared once for every session room (no closures per room: there is one room per online session). */
  private static readonly messages: MessageTable<SessionRoom> = new Map([
    ['ping', tableHandler(PingMessage, (_room: SessionRoom, client, message) => client.send('pong', message ?? {}))],
    ['rpc', tableHandler(RpcMessage, (room: SessionRoom, client, message) => room.rpc(client, message))],
    [
      'status_update',
      tableHandler(StatusUpdateMessage, (room: SessionRoom, _client, message) => room.session().updateStatus(message.status)),
    ],
    ['status_follow', tableHandler(StatusFollowMessage, (room: SessionRoom, client, message) => room.follow(client, message))],
    [
      'status_unfollow',
      tableHandler(StatusUnfollowMessage, (room: SessionRoom, _client, message) => room.session().unfollow(message.user_ids)),
    ],
    ['matchmaker_add', tableHandler(TicketFields, (room: SessionRoom, client, message) => room.addTicket(client, message))],
    [
      'matchmaker_remove',
      tableHandler(TicketRemove, (room: SessionRoom, _client, message) =>
        removeTicket(message.queue, message.ticket, { sessionId: room.sessionId }),
      ),
    ],
    ['match_join', tableHandler(MatchJoinMessage, (room: SessionRoom, client, message) => room.matchJoin(client, message))],
  ]);

  private async addTicket(client: Client, message: z.output<typeof TicketFields>): Promise<void> {
    const auth = client.auth as ClientAuth;
    const ticket = await addTicket({
      ...message,
      presences: [{ user_id: auth.userId, session_id: auth.sid, username: auth.username }],
      sessionId: auth.sid,
    });
    client.send('matchmaker_ticket', { ticket });
  }

  private async matchJoin(client: Client, message: z.output<typeof MatchJoinMessage>): Promise<void> {
    const auth = client.auth as ClientAuth;
    let matchId = message.match_id;
    let reservation;
    if (message.token !== undefined) {
      const claims = this.deps.verifier.verifyMatchToken(message.token);
      if (claims.uid !== auth.userId) throw new AppError(Code.PERMISSION_DENIED, 'This matchmaker token belongs to another user.');
      matchId = claims.mid;
      reservation = await reserveTokenSeat(matchId, auth, message.metadata ?? {});
    } else reservation = await reserveMatchSeat(matchId!, auth, message.metadata ?? {});
    client.send('match_reservation', { match_id: matchId, reservation });
  }

  private session(): SessionActor {
    if (!this.actor) throw new AppError(Code.FAILED_PRECONDITION, 'Session not started.');
    return this.actor;
  }

  private async follow(client: Client, message: z.output<typeof StatusFollowMessage>): Promise<void> {
    const ids = new Set(message.user_ids ?? []);
    if (message.usernames && message.usernames.length > 0) {
      for (const u of await getUsers(this.deps.em(), [], message.usernames)) ids.add(u.id);
    }
    const presences = await this.session().follow([...ids]);
    client.send('status', { presences });
  }

  private async rpc(client: Client, message: z.output<typeof RpcMessage>): Promise<void> {
    const fn = this.deps.hooks.rpc(message.id);
    if (!fn) throw new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_NOT_FOUND, Code.NOT_FOUND, 'RPC function not found');
    let result: string | undefined;
    try {
      result = await fn(this.hookContext(client, 'rpc'), message.payload ?? '');
    } catch (err) {
      if (err instanceof AppError) throw new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_EXCEPTION, err.code, err.message, { cause: err });
      throw new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_EXCEPTION, Code.INTERNAL, 'RPC function failed.', { cause: err });
    }
    client.send('rpc', { id: message.id, ...(result !== undefined ? { payload: result } : {}) });
  }

  override async onJoin(client: Client, options: unknown): Promise<void> {
    const auth = client.auth as ClientAuth;
    if (auth.sid !== this.sessionId) throw new Error('this room belongs to another session');
    const { hidden } = JoinOptions.parse(options ?? {});
    this.actor = new SessionActor(
      {
        presence: this.presence,
        // Always the current client: after a reconnection Colyseus hands us a new one.
        send: (type, message) => this.clients[0]?.send(type, message),
        onError: (err) => this.log.error({ err }, 'session actor callback failed'),
      },
      { userId: auth.userId, username: auth.username, sessionId: auth.sid },
    );
    await this.actor.start(hidden === true);
    if (this.deps.singleSocket) {
      await this.presence.publish(singleSocketChannel(auth.userId), { sessionId: auth.sid });
      await this.presence.subscribe(singleSocketChannel(auth.userId), this.onSingleSocket);
    }
    // Through the server's logger: `this.log` would make a child logger per session room.
    this.deps.log.debug({ room: 'session', userId: auth.userId, sessionId: auth.sid }, 'session connected');
  }

  /** Leaving for good (not a drop that may still reconnect): offline for followers. */
  override onDispose(): void {
    this.deps.ticker.remove(this);
  }

  override async onLeave(): Promise<void> {
    const actor = this.actor;
    this.actor = undefined;
    if (!actor) return;
    try {
      if (this.deps.singleSocket) await this.presence.unsubscribe(singleSocketChannel(actor.identity.userId), this.onSingleSocket);
      await actor.stop();
    } catch (err) {
      // Colyseus does not catch a rejected onLeave (an unhandled rejection). While the process shuts
      // down, Presence may close under us: a survivor's sweep takes the session offline instead.
      this.log.warn({ err }, 'session could not go offline cleanly');
    }
    // Nakama drops a session's matchmaker tickets when it disconnects.
    await sessionEnded(this.presence, this.sessionId).catch((err: unknown) => this.log.warn({ err }, 'session tickets not dropped'));
  }
}

// Colyseus wraps the lifecycle methods, clock and message handlers of every room that has an
// `onUncaughtException` in closures of its own (18 closures per room). A session room needs none:
// its message handlers catch their own failures (TavernRoom.dispatch answers with an `error`
// message), onLeave catches what it awaits, and a failing onCreate or onJoin refuses the join.
Object.defineProperty(SessionRoom.prototype, 'onUncaughtException', { value: undefined, writable: true, configurable: true });
