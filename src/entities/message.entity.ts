import { defineEntity, p } from '@mikro-orm/postgresql';

/** A persisted chat message. The channel is (stream mode, subject, descriptor, label), as in Nakama. */
export const MessageSchema = defineEntity({
  name: 'Message',
  tableName: 'message',
  properties: {
    id: p.uuid().primary(),
    code: p.smallint().default(0),
    senderId: p.uuid(),
    username: p.string().length(128),
    streamMode: p.smallint(),
    streamSubject: p.uuid(),
    streamDescriptor: p.uuid(),
    streamLabel: p.string().length(128),
    content: p.json<Record<string, unknown>>(),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
  },
});
