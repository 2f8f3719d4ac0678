/** Chat history (Nakama's ListChannelMessages): `GET /v2/channel/{channel_id}` with cursors both ways. */
import { z } from 'zod';
import * as chat from '../services/chat.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qBool } from './schema.js';

export function channelEndpoints(): Endpoint[] {
  return [
    endpoint({
      operation: 'ListChannelMessages',
      method: 'GET',
      path: '/v2/channel/:channel_id',
      auth: 'session',
      request: z.object({
        channel_id: z.string().min(1).max(300),
        limit: z.coerce
          .number()
          .int()
          .min(1, 'Invalid limit - limit must be between 1 and 100.')
          .max(100, 'Invalid limit - limit must be between 1 and 100.')
          .optional(),
        forward: qBool.optional(),
        cursor: z.string().max(512).optional(),
      }),
      async handler(req, ctx) {
        const c = chat.parseChannelId(req.channel_id);
        await chat.checkAccess(ctx.em, c, ctx.session!.userId);
        const page = await chat.listMessages(ctx.em, c, {
          limit: req.limit ?? 100,
          forward: req.forward ?? true,
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.messages.length > 0 ? { messages: page.messages.map(({ persistent: _p, ...m }) => ({ ...m, persistent: true })) } : {}),
          ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}),
          ...(page.prevCursor ? { prev_cursor: page.prevCursor } : {}),
        };
      },
    }),
  ];
}
