/**
 * Helpers for the `session` room suites (test/rooms/session*.test.ts): joining a session's room
 * through the SDK, a mailbox of its `pong` and `error` answers, the session rooms the matchmaker
 * knows of, and refused joins. Whatever talks to a server takes its URL.
 */
import assert from 'node:assert/strict';
import { matchMaker } from '@colyseus/core';
import { MatchMakeError, type Room } from '@colyseus/sdk';
import { eventually, inbox, sdk } from './realtime.js';
import { decodeJwt, type Claims } from './wire.js';

export type { Claims };

/** The state of a session room, as clients see it. */
export interface SessionView {
  userId: string;
  username: string;
  sessionId: string;
}

/** The (unverified) claims of a JWT. */
export function claimsOf(token: string): Claims {
  return decodeJwt(token);
}

/** Joins (creates) the session room of `token` on the server at `url` and waits for the first state. */
export async function joinSession(url: string, token: string, options?: Record<string, unknown>): Promise<Room<any, SessionView>> {
  const room = await sdk(url, token).create<SessionView>('session', options);
  await eventually(() => assert.ok(room.state?.sessionId, 'state not synchronised yet'));
  return room;
}

/** Rejects `p` after `ms` milliseconds, naming what was awaited. */
export function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export type Received = { type: string; body: any };

/** Queues the `pong` and `error` messages a room receives, in order. */
export function mailbox(room: Room) {
  const { messages } = inbox(room, ['pong', 'error']);
  return {
    /** The next message, whichever its type (waits up to `ms`). */
    async next(ms = 5000): Promise<Received> {
      await eventually(() => assert.ok(messages.length > 0, 'timed out waiting for a message'), ms);
      return messages.shift()!;
    },
  };
}

/** Sends a ping and returns the next message (a `pong` or an `error`). */
export async function ping(room: Room, box: ReturnType<typeof mailbox>, payload?: unknown): Promise<Received> {
  room.send('ping', payload);
  return box.next();
}

/** Session rooms the matchmaker (of this process's server) knows of, optionally only the one of a session. */
export async function sessionRooms(tid?: string) {
  const rooms = await matchMaker.query({ name: 'session' });
  return tid === undefined ? rooms : rooms.filter((r) => r.roomId === `session_${tid}`);
}

/** Asserts that joining the session room on the server at `url` with `token` is refused as unauthenticated. */
export async function assertRefused(url: string, token: string | undefined, message = 'Auth token invalid') {
  await assert.rejects(sdk(url, token).create('session'), (err: unknown) => {
    assert.ok(err instanceof MatchMakeError, `expected a MatchMakeError, got ${String(err)}`);
    assert.equal(err.code, 401);
    assert.equal(err.message, message);
    return true;
  });
}

/** Now, in seconds (as JWT times are). */
export const now = () => Math.floor(Date.now() / 1000);
/** The key the server signs session tokens with by default. */
export const DEFAULT_SESSION_KEY = 'defaultencryptionkey';
