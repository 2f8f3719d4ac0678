/**
 * One room per connected session (`client.create('session')`). Its id is derived from the
 * session id, so finding or creating it is O(1) and a second connection of the same session finds
 * the first one's room (full) instead of making another. M1.5 adds status, followers and live
 * notifications here.
 */
import { schema, t } from '@colyseus/schema';
import type { Client } from '@colyseus/core';
import { z } from 'zod';
import { AppError, Code } from '../errors.js';
import { RealtimeCode, RealtimeError, TavernRoom, type ClientAuth } from './base.room.js';

/** `ping`: any JSON object (or nothing); answered with a `pong` carrying the same fields. */
export const PingMessage = z.looseObject({}).optional();

/** `rpc`: call a registered RPC; answered with an `rpc` message `{ id, payload }`. */
export const RpcMessage = z.object({ id: z.string().min(1).max(128), payload: z.string().optional() });

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

/** The room id of a session's room. */
export const sessionRoomId = (sessionId: string) => `session_${sessionId}`;

export class SessionRoom extends TavernRoom {
  override maxClients = 1;
  // Nothing changes often here: send state changes when they happen, not on a 50 ms timer.
  override patchRate = null;
  private sessionId = '';

  /** The session id comes from the verified token, never from what the client sent. */
  static prepareOptions(options: Record<string, unknown>, auth: ClientAuth): void {
    options.sid = auth.sessionId;
  }

  override onCreate(options: { sid?: unknown }): void {
    if (typeof options.sid !== 'string') throw new Error('session room needs a verified session id');
    this.sessionId = options.sid;
    this.roomId = sessionRoomId(options.sid);
    void this.setPrivate(true);
    this.state = new SessionState();
    this.handle('ping', PingMessage, (client, message) => client.send('pong', message ?? {}));
    this.handle('rpc', RpcMessage, (client, message) => this.rpc(client, message));
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

  override onJoin(client: Client): void {
    const auth = client.auth as ClientAuth;
    if (auth.sessionId !== this.sessionId) throw new Error('this room belongs to another session');
    const state = this.state as SessionState;
    state.userId = auth.userId;
    state.username = auth.username;
    state.sessionId = auth.sessionId;
    this.broadcastPatch();
    this.log.debug({ userId: auth.userId }, 'session connected');
  }
}
