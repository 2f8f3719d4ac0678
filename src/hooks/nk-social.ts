/** `nk` functions for notifications (friends and groups add theirs here). */
import { invalid } from '../errors.js';
import type { Em } from '../services/db.js';
import * as notifications from '../services/notifications.js';
import type { Publisher } from '../services/ports.js';
import * as v from '../services/validation.js';

export interface RuntimeNotification {
  id: string;
  userId: string;
  subject: string;
  content: Record<string, unknown>;
  code: number;
  senderId?: string;
  createTime: number;
  persistent: boolean;
}

export interface NotificationRequest {
  userId: string;
  subject: string;
  content: Record<string, unknown>;
  code: number;
  senderId?: string | null;
  persistent?: boolean;
}

const runtime = (n: notifications.Notification): RuntimeNotification => ({
  id: n.id,
  userId: n.userId,
  subject: n.subject,
  content: n.content,
  code: n.code,
  ...(n.senderId ? { senderId: n.senderId } : {}),
  createTime: Math.floor(n.createTime.getTime() / 1000),
  persistent: n.persistent,
});

function toInput(n: NotificationRequest): notifications.NotificationInput {
  if (!v.uuid.safeParse(n.userId).success) throw invalid(`Invalid user ID '${n.userId}'.`);
  if (n.senderId && !v.uuid.safeParse(n.senderId).success) throw invalid(`Invalid sender ID '${n.senderId}'.`);
  return {
    userId: n.userId,
    subject: n.subject,
    content: n.content ?? {},
    code: n.code,
    ...(n.senderId ? { senderId: n.senderId } : {}),
    persistent: n.persistent === true,
  };
}

/** Pages of users for `notificationSendAll`, so a large user base never loads into memory at once. */
const SEND_ALL_PAGE = 1000;

export function socialNk(em: () => Em, publisher: Publisher) {
  return {
    async notificationSend(
      userId: string,
      subject: string,
      content: Record<string, unknown>,
      code: number,
      senderId?: string | null,
      persistent = false,
    ): Promise<void> {
      await notifications.sendNotifications(em(), publisher, [
        toInput({ userId, subject, content, code, senderId: senderId ?? null, persistent }),
      ]);
    },
    async notificationsSend(list: NotificationRequest[]): Promise<void> {
      await notifications.sendNotifications(em(), publisher, list.map(toInput));
    },
    /** Sends to every user (stored for each when persistent; delivered live to those online). */
    async notificationSendAll(subject: string, content: Record<string, unknown>, code: number, persistent = false): Promise<void> {
      let after: string | undefined;
      for (;;) {
        const ids = await notifications.allUserIds(em(), after, SEND_ALL_PAGE);
        if (ids.length === 0) return;
        await notifications.sendNotifications(
          em(),
          publisher,
          ids.map((userId) => toInput({ userId, subject, content, code, persistent })),
        );
        after = ids[ids.length - 1];
      }
    },
    async notificationsList(userId: string, limit = 100, cursor?: string) {
      if (!v.uuid.safeParse(userId).success) throw invalid(`Invalid user ID '${userId}'.`);
      const page = await notifications.listNotifications(em(), userId, limit, cursor);
      return { notifications: page.notifications.map(runtime), ...(page.cacheableCursor ? { cursor: page.cacheableCursor } : {}) };
    },
    async notificationsDelete(list: { userId: string; notificationId: string }[]): Promise<void> {
      const byUser = new Map<string, string[]>();
      for (const { userId, notificationId } of list) {
        if (!v.uuid.safeParse(userId).success || !v.uuid.safeParse(notificationId).success)
          throw invalid('Invalid user or notification ID.');
        byUser.set(userId, [...(byUser.get(userId) ?? []), notificationId]);
      }
      for (const [userId, ids] of byUser) await notifications.deleteNotifications(em(), userId, ids);
    },
  };
}
