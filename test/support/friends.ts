/**
 * Setup and helpers for the friends suites (test/api/friends*.test.ts): a server with a small
 * friend limit, nakama-js users, and the edge-count check every step is followed by.
 */
import assert from 'node:assert/strict';
import { Client, type Session } from '@heroiclabs/nakama-js';
import { query, sql, type Em } from '../../src/services/db.js';
import type { NotificationEvent } from '../../src/services/notifications.js';
import { startTestServer, type TestServer } from './server.js';

export const MAX_FRIENDS = 12;

/** A server with a friend limit of `MAX_FRIENDS`, and a nakama-js client for it. */
export async function startFriendsServer(): Promise<{ s: TestServer; client: Client }> {
  // Sessions longer than nakama-js's refresh margin, so the client uses them as they are.
  const s = await startTestServer({ tokenExpirySec: 7200, refreshTokenExpirySec: 86400, maxFriends: MAX_FRIENDS });
  return { s, client: new Client('defaultkey', '127.0.0.1', String(s.port), false) };
}

/** Enough fixed elements that destructuring the first seven needs no `!`. */
export type Sessions = [Session, Session, Session, Session, Session, Session, Session, ...Session[]];
export const bearer = (u: Session) => `Bearer ${u.token}`;
export const ids = (...us: Session[]) => us.map((u) => u.user_id!);
export const qs = (params: Record<string, string | string[]>) =>
  Object.entries(params)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${encodeURIComponent(x)}`))
    .join('&');

/** Helpers on the server and client `world` returns (read at each call: a suite starts them in `before`). */
export function friendsHelpers(world: () => { s: TestServer; client: Client }) {
  const em = () => world().s.orm.em.fork() as unknown as Em;
  let n = 0;
  const user = (): Promise<Session> =>
    world().client.authenticateDevice(`friends-${process.pid}-${Date.now()}-${++n}`, true, `fr_${process.pid}_${Date.now()}_${n}`);
  const users = async (count: number) => (await Promise.all(Array.from({ length: count }, () => user()))) as Sessions;

  /** Every account's edge_count equals its edges, on whichever database the suite runs. */
  async function consistent(): Promise<void> {
    const wrong = await query<{ id: string; edge_count: number; edges: number }>(
      em(),
      sql`select u.id, u.edge_count, (select count(*)::int from user_edge e where e.source_id = u.id) as edges
          from users u where u.edge_count <> (select count(*) from user_edge e where e.source_id = u.id)`,
    );
    assert.deepEqual(wrong, []);
  }

  const edgeCount = async (u: Session) => (await world().s.runtime.nk.accountGetId(u.user_id!)).user.edgeCount;

  /** `a`'s view of `b` on a's list (undefined: not listed). */
  async function stateOf(a: Session, b: Session): Promise<number | undefined> {
    const list = await world().client.listFriends(a);
    return list.friends?.find((f) => f.user?.id === b.user_id)?.state;
  }

  async function states(a: Session, b: Session): Promise<[number | undefined, number | undefined]> {
    await consistent();
    return [await stateOf(a, b), await stateOf(b, a)];
  }

  const notificationsOf = async (u: Session) => (await world().client.listNotifications(u, 100)).notifications ?? [];

  /** Collects what is published on a user's notification channel while `fn` runs. */
  async function live(u: Session, fn: () => Promise<unknown>): Promise<NotificationEvent['notifications']> {
    const { s } = world();
    const got: NotificationEvent['notifications'] = [];
    const cb = (e: NotificationEvent) => got.push(...e.notifications);
    await s.presence.subscribe(`user:${u.user_id}`, cb);
    try {
      await fn();
    } finally {
      s.presence.unsubscribe(`user:${u.user_id}`, cb);
    }
    return got;
  }

  return { em, user, users, consistent, edgeCount, states, notificationsOf, live };
}
