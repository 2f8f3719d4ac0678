/** Notification endpoints (Nakama REST v2): list with a cacheable cursor, delete. */
import { z } from 'zod';
import * as notifications from '../services/notifications.js';
import * as v from '../services/validation.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qArray } from './schema.js';

export function notificationEndpoints(): Endpoint[] {
  return [
    endpoint({
      operation: 'ListNotifications',
      method: 'GET',
      path: '/v2/notification',
      auth: 'session',
      request: z.object({
        limit: z.coerce
          .number()
          .int()
          .min(1, 'Invalid limit - limit must be between 1 and 100.')
          .max(100, 'Invalid limit - limit must be between 1 and 100.')
          .optional(),
        cacheable_cursor: z.string().max(512).optional(),
      }),
      async handler(req, ctx) {
        const page = await notifications.listNotifications(
          ctx.em,
          ctx.session!.userId,
          req.limit ?? 100,
          req.cacheable_cursor || undefined,
        );
        return {
          ...(page.notifications.length > 0 ? { notifications: page.notifications.map(notifications.wireNotification) } : {}),
          ...(page.cacheableCursor ? { cacheable_cursor: page.cacheableCursor } : {}),
        };
      },
    }),
    endpoint({
      operation: 'DeleteNotifications',
      method: 'DELETE',
      path: '/v2/notification',
      auth: 'session',
      request: z.object({ ids: qArray(v.uuid) }),
      async handler(req, ctx) {
        await notifications.deleteNotifications(ctx.em, ctx.session!.userId, req.ids);
        return {};
      },
    }),
  ];
}
