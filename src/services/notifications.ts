/**
 * Notifications (Nakama's core_notification): persistent ones are stored, every one is published
 * on the recipient's Presence channel `user:<id>` so their `session` room delivers it live on
 * whichever process they are connected to. Negative codes are reserved for the system.
 */
import { randomUUID } from 'node:crypto';
import { invalid } from '../errors.js';
import { query, run, sql, toDate, type Em } from './db.js';
import type { Publisher } from './ports.js';

/** System notification codes (shared/reference/limits.md). */
export const NotificationCode = {
  DM_REQUEST: -1,
  FRIEND_REQUEST: -2,
  FRIEND_ACCEPT: -3,
  GROUP_ADD: -4,
  GROUP_JOIN_REQUEST: -5,
  FRIEND_JOIN_GAME: -6,
  SINGLE_SOCKET: -7,
  GROUP_KICK: -8,
  FRIEND_REMOVE: -9,
} as const;

export interface NotificationInput {
  userId: string;
  subject: string;
  content: Record<string, unknown>;
  code: number;
  /** Absent: sent by the system. */
  senderId?: string;
  persistent: boolean;
}

export interface Notification {
  id: string;
  userId: string;
  subject: string;
  content: Record<string, unknown>;
  code: number;
  senderId?: string;
  createTime: Date;
  persistent: boolean;
}

/** The Presence channel a user's live notifications travel on. */
export const userChannel = (userId: string) => `user:${userId}`;

/** What is published on `user:<id>`: JSON-safe (RedisPresence encodes it), Nakama's wire shape. */
export interface NotificationEvent {
  type: 'notifications';
  notifications: WireNotification[];
}

export interface WireNotification {
  id: string;
  subject: string;
  content: string;
  code: number;
  sender_id?: string;
  create_time: string;
  persistent?: boolean;
}

export function wireNotification(n: Notification): WireNotification {
  return {
    id: n.id,
    subject: n.subject,
    content: JSON.stringify(n.content),
    code: n.code,
    ...(n.senderId ? { sender_id: n.senderId } : {}),
    create_time: n.createTime.toISOString().replace('.000Z', 'Z'),
    ...(n.persistent ? { persistent: true } : {}),
  };
}

function check(n: NotificationInput, allowSystemCodes: boolean): void {
  if (!n.subject || n.subject.length > 255) throw invalid('Notification subject must be 1-255 characters.');
  if (!Number.isInteger(n.code)) throw invalid('Notification code must be an integer.');
  if (n.code <= 0 && !allowSystemCodes)
    throw invalid('Notification code must be positive: zero and negative codes are reserved for the system.');
  if (typeof n.content !== 'object' || n.content === null || Array.isArray(n.content))
    throw invalid('Notification content must be a JSON object.');
}

/**
 * Stores the persistent notifications (in the caller's transaction when `em` is in one) and
 * publishes every notification to its recipient. `system` allows the reserved negative codes.
 */
export async function sendNotifications(
  em: Em,
  publisher: Publisher,
  inputs: readonly NotificationInput[],
  opts: { system?: boolean } = {},
): Promise<Notification[]> {
  if (inputs.length === 0) return [];
  for (const n of inputs) check(n, opts.system === true);
  const now = new Date();
  const notifications: Notification[] = inputs.map((n) => ({
    id: randomUUID(),
    userId: n.userId,
    subject: n.subject,
    content: n.content,
    code: n.code,
    ...(n.senderId ? { senderId: n.senderId } : {}),
    createTime: now,
    persistent: n.persistent,
  }));
  const stored = notifications.filter((n) => n.persistent);
  if (stored.length > 0) {
    // Recipients that no longer exist are skipped rather than failing the whole batch.
    await run(
      em,
      sql`insert into notification (id, user_id, subject, content, code, sender_id, create_time)
          select q.id, q.user_id, q.subject, q.content, q.code, q.sender_id, ${now}
          from unnest(${stored.map((n) => n.id)}::uuid[], ${stored.map((n) => n.userId)}::uuid[], ${stored.map((n) => n.subject)}::text[],
                      ${stored.map((n) => JSON.stringify(n.content))}::jsonb[], ${stored.map((n) => n.code)}::int[],
                      ${stored.map((n) => n.senderId ?? null)}::uuid[]) as q(id, user_id, subject, content, code, sender_id)
          where exists (select 1 from users u where u.id = q.user_id for key share)`,
    );
  }
  const byUser = new Map<string, WireNotification[]>();
  for (const n of notifications) {
    const list = byUser.get(n.userId) ?? [];
    list.push(wireNotification(n));
    byUser.set(n.userId, list);
  }
  for (const [userId, list] of byUser) {
    const event: NotificationEvent = { type: 'notifications', notifications: list };
    await publisher.publish(userChannel(userId), event);
  }
  return notifications;
}

interface Row {
  id: string;
  user_id: string;
  subject: string;
  content: string;
  code: number;
  sender_id: string | null;
  create_time: Date | string;
  ct: string;
}

interface Cursor {
  t: string;
  i: string;
}

/**
 * A user's notifications, oldest first. The cacheable cursor marks the newest one returned: passing
 * it later returns only notifications that arrived after it, so clients can poll cheaply.
 */
export async function listNotifications(
  em: Em,
  userId: string,
  limit: number,
  cacheableCursor?: string,
): Promise<{ notifications: Notification[]; cacheableCursor?: string }> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid('Invalid limit - limit must be between 1 and 100.');
  let after = sql``;
  if (cacheableCursor) {
    let c: Cursor;
    try {
      c = JSON.parse(Buffer.from(cacheableCursor, 'base64url').toString('utf8')) as Cursor;
    } catch {
      throw invalid('Malformed cursor was used.');
    }
    if (typeof c?.t !== 'string' || typeof c.i !== 'string') throw invalid('Malformed cursor was used.');
    after = sql`and (create_time, id) > (${c.t}::timestamptz, ${c.i}::uuid)`;
  }
  const rows = await query<Row>(
    em,
    sql`select id, user_id, subject, content::text as content, code, sender_id, create_time, create_time::text as ct
        from notification where user_id = ${userId} ${after}
        order by create_time, id limit ${limit}`,
  );
  const notifications = rows.map((r) => ({
    id: r.id,
    userId: r.user_id,
    subject: r.subject,
    content: JSON.parse(r.content) as Record<string, unknown>,
    code: r.code,
    ...(r.sender_id ? { senderId: r.sender_id } : {}),
    createTime: toDate(r.create_time),
    persistent: true,
  }));
  const last = rows[rows.length - 1];
  // With nothing new, the cursor passed in stays valid: the client keeps polling from it.
  const cursor = last ? Buffer.from(JSON.stringify({ t: last.ct, i: last.id } satisfies Cursor)).toString('base64url') : cacheableCursor;
  return { notifications, ...(cursor ? { cacheableCursor: cursor } : {}) };
}

/** Deletes some of a user's own notifications; ids of other users' notifications are ignored. */
export async function deleteNotifications(em: Em, userId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return run(em, sql`delete from notification where user_id = ${userId} and id = any(${[...ids]}::uuid[])`);
}

/** Every user id, in pages, for `notificationSendAll`. */
export async function allUserIds(em: Em, after: string | undefined, limit: number): Promise<string[]> {
  const rows = await query<{ id: string }>(
    em,
    sql`select id from users where ${after ? sql`id > ${after}::uuid` : sql`true`} order by id limit ${limit}`,
  );
  return rows.map((r) => r.id);
}
