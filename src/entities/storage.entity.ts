import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * A storage object (Nakama's `storage`): keyed by collection, key and owner (the nil uuid for
 * objects the server owns); `version` is the MD5 of the value as written.
 */
export const StorageObjectSchema = defineEntity({
  name: 'StorageObject',
  tableName: 'storage',
  properties: {
    collection: p.string().length(128).primary(),
    key: p.string().length(128).primary(),
    userId: p.uuid().primary(),
    value: p.json<Record<string, unknown>>(),
    version: p.string().length(32),
    read: p.smallint().default(1),
    write: p.smallint().default(1),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
  },
});
export class StorageObject extends StorageObjectSchema.class {}
StorageObjectSchema.setClass(StorageObject);
