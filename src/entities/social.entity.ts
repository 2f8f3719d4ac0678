import { defineEntity, p } from '@mikro-orm/postgresql';

/** One direction of a friendship: the source's view of the destination. */
export const UserEdgeSchema = defineEntity({
  name: 'UserEdge',
  tableName: 'user_edge',
  properties: {
    sourceId: p.uuid().primary(),
    destinationId: p.uuid().primary(),
    state: p.smallint(),
    position: p.bigint(),
    metadata: p.json<Record<string, unknown>>(),
    updateTime: p.datetime().defaultRaw('now()'),
  },
});

export const GroupSchema = defineEntity({
  name: 'Group',
  tableName: 'groups',
  properties: {
    id: p.uuid().primary(),
    creatorId: p.uuid().nullable(),
    name: p.string().length(255).unique(),
    description: p.string().length(255).nullable(),
    avatarUrl: p.string().length(512).nullable(),
    langTag: p.string().length(18).default('en'),
    metadata: p.json<Record<string, unknown>>(),
    state: p.smallint().default(0),
    edgeCount: p.integer().default(0),
    maxCount: p.integer().default(100),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
    disableTime: p.datetime().nullable(),
  },
});

/** A user's role in a group: 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned. */
export const GroupEdgeSchema = defineEntity({
  name: 'GroupEdge',
  tableName: 'group_edge',
  properties: {
    groupId: p.uuid().primary(),
    userId: p.uuid().primary(),
    state: p.smallint(),
    position: p.bigint(),
    updateTime: p.datetime().defaultRaw('now()'),
  },
});

export const NotificationSchema = defineEntity({
  name: 'Notification',
  tableName: 'notification',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    subject: p.string().length(255),
    content: p.json<Record<string, unknown>>(),
    code: p.integer(),
    senderId: p.uuid().nullable(),
    createTime: p.datetime().defaultRaw('now()'),
  },
});
