/** Storage endpoints (Nakama REST v2): batch read, write and delete, and listing with cursors. */
import { z } from 'zod';
import * as storage from '../services/storage.js';
import * as v from '../services/validation.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { protoTime } from './wire.js';

const name = z.string().min(1, 'Invalid collection or key value supplied. They must be set.').max(128);
const ownerId = z.union([z.literal(''), v.uuid]).optional();

/** Nakama's `StorageObject` / `StorageObjectAck` on the wire (zero values omitted). */
export function wireObject(o: storage.StorageObject) {
  return {
    collection: o.collection,
    key: o.key,
    ...(o.userId !== storage.SYSTEM_USER_ID ? { user_id: o.userId } : {}),
    value: o.value,
    version: o.version,
    ...(o.permissionRead ? { permission_read: o.permissionRead } : {}),
    ...(o.permissionWrite ? { permission_write: o.permissionWrite } : {}),
    create_time: protoTime(o.createTime),
    update_time: protoTime(o.updateTime),
  };
}

function wireAck(a: storage.StorageAck) {
  return {
    collection: a.collection,
    key: a.key,
    version: a.version,
    ...(a.userId !== storage.SYSTEM_USER_ID ? { user_id: a.userId } : {}),
    create_time: protoTime(a.createTime),
    update_time: protoTime(a.updateTime),
  };
}

export function storageEndpoints(): Endpoint[] {
  const list = (path: string) =>
    endpoint({
      operation: 'ListStorageObjects',
      method: 'GET',
      path,
      auth: 'session',
      request: z.object({
        collection: name,
        user_id: ownerId,
        limit: z.coerce
          .number()
          .int()
          .min(1, 'Invalid limit - limit must be between 1 and 100.')
          .max(100, 'Invalid limit - limit must be between 1 and 100.')
          .optional(),
        cursor: z.string().max(1024).optional(),
      }),
      async handler(req, ctx) {
        const page = await storage.listObjects(
          ctx.em,
          { userId: ctx.session!.userId },
          {
            collection: req.collection,
            ...(req.user_id ? { userId: req.user_id } : {}),
            limit: req.limit ?? 100,
            ...(req.cursor ? { cursor: req.cursor } : {}),
          },
        );
        return {
          ...(page.objects.length > 0 ? { objects: page.objects.map(wireObject) } : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    });
  return [
    endpoint({
      operation: 'ReadStorageObjects',
      method: 'POST',
      path: '/v2/storage',
      auth: 'session',
      body: '*',
      request: z.object({
        object_ids: z
          .array(z.object({ collection: name, key: name, user_id: ownerId }))
          .max(1000)
          .optional(),
      }),
      async handler(req, ctx) {
        const ids = (req.object_ids ?? []).map((o) => ({
          collection: o.collection,
          key: o.key,
          ...(o.user_id ? { userId: o.user_id } : {}),
        }));
        const objects = await storage.readObjects(ctx.em, { userId: ctx.session!.userId }, ids);
        return objects.length > 0 ? { objects: objects.map(wireObject) } : {};
      },
    }),
    endpoint({
      operation: 'WriteStorageObjects',
      method: 'PUT',
      path: '/v2/storage',
      auth: 'session',
      body: '*',
      request: z.object({
        objects: z
          .array(
            z.object({
              collection: name,
              key: name,
              value: z.string().min(1, 'Invalid collection or key value supplied. They must be set.'),
              version: z.string().max(64).optional(),
              permission_read: z
                .union([z.literal(0), z.literal(1), z.literal(2)], {
                  error: 'Invalid Read permission supplied. It must be either 0, 1 or 2.',
                })
                .optional(),
              permission_write: z
                .union([z.literal(0), z.literal(1)], { error: 'Invalid Write permission supplied. It must be either 0 or 1.' })
                .optional(),
            }),
          )
          .max(1000)
          .optional(),
      }),
      async handler(req, ctx) {
        const acks = await storage.writeObjects(
          ctx.em,
          { userId: ctx.session!.userId },
          (req.objects ?? []).map((o) => ({
            collection: o.collection,
            key: o.key,
            value: o.value,
            ...(o.version !== undefined ? { version: o.version } : {}),
            ...(o.permission_read !== undefined ? { permissionRead: o.permission_read } : {}),
            ...(o.permission_write !== undefined ? { permissionWrite: o.permission_write } : {}),
          })),
        );
        return acks.length > 0 ? { acks: acks.map(wireAck) } : {};
      },
    }),
    endpoint({
      operation: 'DeleteStorageObjects',
      method: 'PUT',
      path: '/v2/storage/delete',
      auth: 'session',
      body: '*',
      request: z.object({
        object_ids: z
          .array(z.object({ collection: name, key: name, version: z.string().max(64).optional() }))
          .max(1000)
          .optional(),
      }),
      async handler(req, ctx) {
        await storage.deleteObjects(
          ctx.em,
          { userId: ctx.session!.userId },
          (req.object_ids ?? []).map((o) => ({ collection: o.collection, key: o.key, ...(o.version ? { version: o.version } : {}) })),
        );
        return {};
      },
    }),
    list('/v2/storage/:collection'),
    list('/v2/storage/:collection/:user_id'),
  ];
}
