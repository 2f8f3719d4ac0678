import { defineEntity, p } from '@mikro-orm/postgresql';

/** An account. Columns follow Nakama's `users` table so its behaviour maps one to one. */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.uuid().primary(),
    username: p.string().length(128).unique(),
    displayName: p.string().length(255).nullable(),
    avatarUrl: p.string().length(512).nullable(),
    langTag: p.string().length(18).default('en'),
    location: p.string().length(255).nullable(),
    timezone: p.string().length(255).nullable(),
    metadata: p.json<Record<string, unknown>>().default('{}'),
    wallet: p.json<Record<string, string | number>>().default('{}'),
    email: p.string().length(255).nullable().unique(),
    password: p.text().nullable(),
    customId: p.string().length(128).nullable().unique(),
    edgeCount: p.integer().default(0),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
    verifyTime: p.datetime().nullable(),
    disableTime: p.datetime().nullable(),
  },
});
export class User extends UserSchema.class {}
UserSchema.setClass(User);
