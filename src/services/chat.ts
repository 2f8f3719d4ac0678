/**
 * Chat channels (Nakama's core_channel): deterministic channel ids, who may join, message
 * persistence and history. Ids follow Nakama's `<mode>.<subject>.<descriptor>.<label>` so every
 * process maps the same target to the same channel (and the same room).
 */
import { randomUUID } from 'node:crypto';
import { AppError, Code, denied, invalid, notFound } from '../errors.js';
import { query, queryOne, sql, toDate, type Em } from './db.js';
import { z } from 'zod';
import * as v from './validation.js';

/** Channel types as clients name them. */
export const ChannelType = { ROOM: 1, DIRECT_MESSAGE: 2, GROUP: 3 } as const;
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];

/** Nakama's stream modes for channels. */
const MODE = { ROOM: 2, GROUP: 3, DM: 4 } as const;

/** Message codes: 0 chat, 1 update, 2 remove; 3–9 group events (Nakama's). */
export const MessageCode = { CHAT: 0, UPDATE: 1, REMOVE: 2 } as const;

const NIL = '00000000-0000-0000-0000-000000000000';

/** A channel, resolved from its id or its target. */
export interface Channel {
  id: string;
  type: ChannelType;
  mode: number;
  subject: string;
  descriptor: string;
  label: string;
  roomName?: string;
  groupId?: string;
  userIdOne?: string;
  userIdTwo?: string;
}

const roomName = z
  .string()
  .min(1, 'Room name must be 1-64 characters.')
  .max(64, 'Room name must be 1-64 characters.')
  .refine((s) => !/[\p{Cc}.]/u.test(s), 'Room name must not contain dots or control characters.');

function channel(mode: number, subject: string, descriptor: string, label: string): Channel {
  const id = `${mode}.${subject === NIL ? '' : subject}.${descriptor === NIL ? '' : descriptor}.${label}`;
  if (mode === MODE.ROOM) return { id, type: ChannelType.ROOM, mode, subject, descriptor, label, roomName: label };
  if (mode === MODE.GROUP) return { id, type: ChannelType.GROUP, mode, subject, descriptor, label, groupId: subject };
  return { id, type: ChannelType.DIRECT_MESSAGE, mode, subject, descriptor, label, userIdOne: subject, userIdTwo: descriptor };
}

/** The channel a user means by `target` (room name, group id or other user's id) and `type`. */
export function channelFor(type: number, target: string, userId: string): Channel {
  if (type === ChannelType.ROOM) {
    const r = roomName.safeParse(target);
    if (!r.success) throw invalid(r.error.issues[0]?.message ?? 'Invalid room name.');
    return channel(MODE.ROOM, NIL, NIL, target);
  }
  if (type === ChannelType.GROUP) {
    if (!v.uuid.safeParse(target).success) throw invalid('Invalid group ID.');
    return channel(MODE.GROUP, target, NIL, '');
  }
  if (type === ChannelType.DIRECT_MESSAGE) {
    if (!v.uuid.safeParse(target).success) throw invalid('Invalid user ID.');
    if (target === userId) throw invalid('Cannot message yourself.');
    const [a, b] = [userId, target].sort() as [string, string];
    return channel(MODE.DM, a, b, '');
  }
  throw invalid('Unrecognized channel type.');
}

/** Parses a channel id (`2...lobby`, `3.<group>..`, `4.<user>.<user>.`). */
export function parseChannelId(id: string): Channel {
  const parts = id.split('.');
  if (parts.length < 4) throw invalid('Invalid channel identifier.');
  const [modeText, subject, descriptor] = parts as [string, string, string];
  const label = parts.slice(3).join('.');
  const mode = Number(modeText);
  const uuidOrEmpty = (s: string) => s === '' || v.uuid.safeParse(s).success;
  if (!uuidOrEmpty(subject) || !uuidOrEmpty(descriptor)) throw invalid('Invalid channel identifier.');
  if (mode === MODE.ROOM && subject === '' && descriptor === '' && roomName.safeParse(label).success) return channel(mode, NIL, NIL, label);
  if (mode === MODE.GROUP && subject !== '' && descriptor === '' && label === '') return channel(mode, subject, NIL, '');
  if (mode === MODE.DM && subject !== '' && descriptor !== '' && subject < descriptor && label === '')
    return channel(mode, subject, descriptor, '');
  throw invalid('Invalid channel identifier.');
}

/** Nakama's channelIdBuild. */
export function channelIdBuild(senderId: string, target: string, type: number): string {
  return channelFor(type, target, senderId).id;
}

/**
 * Whether `userId` may use the channel: group channels are for members (not join requests or
 * bans), direct messages for the two users unless either blocked the other. Throws when not.
 */
export async function checkAccess(em: Em, c: Channel, userId: string): Promise<void> {
  if (c.type === ChannelType.GROUP) {
    const edge = await queryOne<{ state: number }>(
      em,
      sql`select state from group_edge where group_id = ${c.groupId} and user_id = ${userId}`,
    );
    if (!edge || edge.state > 2) throw denied('You are not a member of this group.');
  } else if (c.type === ChannelType.DIRECT_MESSAGE) {
    if (userId !== c.userIdOne && userId !== c.userIdTwo) throw denied('This direct message channel is not yours.');
    const other = userId === c.userIdOne ? c.userIdTwo! : c.userIdOne!;
    const exists = await queryOne(em, sql`select 1 from users where id = ${other}`);
    if (!exists) throw notFound('User not found.');
    const blocked = await queryOne(
      em,
      sql`select 1 from user_edge where state = 3 and ((source_id = ${userId} and destination_id = ${other})
            or (source_id = ${other} and destination_id = ${userId}))`,
    );
    if (blocked) throw denied('Cannot message this user.');
  }
}

/** A message as sent to clients (Nakama's `ChannelMessage`). */
export interface ChannelMessage {
  channel_id: string;
  message_id: string;
  code: number;
  sender_id: string;
  username: string;
  content: string;
  create_time: string;
  update_time: string;
  persistent: boolean;
  room_name?: string;
  group_id?: string;
  user_id_one?: string;
  user_id_two?: string;
}

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

function toMessage(
  c: Channel,
  m: { id: string; code: number; senderId: string; username: string; content: string; create: Date; update: Date; persistent: boolean },
): ChannelMessage {
  return {
    channel_id: c.id,
    message_id: m.id,
    code: m.code,
    sender_id: m.senderId,
    username: m.username,
    content: m.content,
    create_time: iso(m.create),
    update_time: iso(m.update),
    persistent: m.persistent,
    ...(c.roomName !== undefined ? { room_name: c.roomName } : {}),
    ...(c.groupId ? { group_id: c.groupId } : {}),
    ...(c.userIdOne ? { user_id_one: c.userIdOne, user_id_two: c.userIdTwo! } : {}),
  };
}

/** Checks content: a JSON object (as an object or as JSON text), at most `maxBytes` once encoded. */
export function contentText(content: unknown, maxBytes: number): string {
  let obj: unknown = content;
  if (typeof content === 'string') {
    try {
      obj = JSON.parse(content);
    } catch {
      throw invalid('Message content must be a JSON object.');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw invalid('Message content must be a JSON object.');
  const text = JSON.stringify(obj);
  if (Buffer.byteLength(text) > maxBytes) throw invalid(`Message content must be at most ${maxBytes} bytes.`);
  return text;
}

/** Creates a message, storing it when `persist` is set. */
export async function createMessage(
  em: Em,
  c: Channel,
  sender: { userId: string; username: string },
  content: string,
  persist: boolean,
  code: number = MessageCode.CHAT,
): Promise<ChannelMessage> {
  const now = new Date();
  const m = {
    id: randomUUID(),
    code,
    senderId: sender.userId,
    username: sender.username,
    content,
    create: now,
    update: now,
    persistent: persist,
  };
  if (persist) {
    await query(
      em,
      sql`insert into message (id, code, sender_id, username, stream_mode, stream_subject, stream_descriptor, stream_label, content, create_time, update_time)
          values (${m.id}, ${code}, ${sender.userId}, ${sender.username}, ${c.mode}, ${c.subject}, ${c.descriptor}, ${c.label}, ${content}::jsonb, ${now}, ${now})`,
    );
  }
  return toMessage(c, m);
}

interface Row {
  id: string;
  code: number;
  sender_id: string;
  username: string;
  content: string;
  create_time: Date | string;
  update_time: Date | string;
  ct: string;
}

const inChannel = (c: Channel) =>
  sql`stream_mode = ${c.mode} and stream_subject = ${c.subject} and stream_descriptor = ${c.descriptor} and stream_label = ${c.label}`;

/** Edits a stored message; only its sender may (`null`: the server, who may edit any). Returns the update to broadcast (code 1). */
export async function updateMessage(
  em: Em,
  c: Channel,
  senderId: string | null,
  messageId: string,
  content: string,
): Promise<ChannelMessage> {
  const row = await queryOne<Row>(
    em,
    sql`update message set content = ${content}::jsonb, update_time = now()
        where id = ${messageId} and ${inChannel(c)} ${bySender(senderId)}
        returning id, code, sender_id, username, content::text as content, create_time, update_time, create_time::text as ct`,
  );
  if (!row) throw await missingOrNotYours(em, c, messageId);
  return toMessage(c, { ...fromRow(row), code: MessageCode.UPDATE });
}

/** Deletes a stored message; only its sender may (`null`: the server). Returns the removal to broadcast (code 2). */
export async function removeMessage(em: Em, c: Channel, senderId: string | null, messageId: string): Promise<ChannelMessage> {
  const row = await queryOne<Row>(
    em,
    sql`delete from message where id = ${messageId} and ${inChannel(c)} ${bySender(senderId)}
        returning id, code, sender_id, username, '{}' as content, create_time, now() as update_time, create_time::text as ct`,
  );
  if (!row) throw await missingOrNotYours(em, c, messageId);
  return toMessage(c, { ...fromRow(row), code: MessageCode.REMOVE });
}

const bySender = (senderId: string | null) => (senderId === null ? sql`` : sql`and sender_id = ${senderId}`);

async function missingOrNotYours(em: Em, c: Channel, messageId: string): Promise<AppError> {
  const exists = await queryOne(em, sql`select 1 from message where id = ${messageId} and ${inChannel(c)}`);
  return exists ? new AppError(Code.PERMISSION_DENIED, 'Only the sender can change a message.') : notFound('Message not found.');
}

function fromRow(r: Row) {
  return {
    id: r.id,
    code: r.code,
    senderId: r.sender_id,
    username: r.username,
    // jsonb prints with spaces; live messages carry compact JSON, so history does too.
    content: JSON.stringify(JSON.parse(r.content)),
    create: toDate(r.create_time),
    update: toDate(r.update_time),
    persistent: true,
  };
}

interface Cursor {
  t: string;
  i: string;
  f: boolean;
}

const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

/**
 * A channel's history. `forward` lists oldest first, otherwise newest first; `next_cursor` goes on
 * in that direction and `prev_cursor` goes back (Nakama's shape).
 */
export async function listMessages(
  em: Em,
  c: Channel,
  opts: { limit: number; forward: boolean; cursor?: string },
): Promise<{ messages: ChannelMessage[]; nextCursor?: string; prevCursor?: string }> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 100)
    throw invalid('Invalid limit - limit must be between 1 and 100.');
  let cur: Cursor | undefined;
  if (opts.cursor) {
    try {
      cur = JSON.parse(Buffer.from(opts.cursor, 'base64url').toString('utf8')) as Cursor;
    } catch {
      throw invalid('Malformed cursor was used.');
    }
    if (typeof cur?.t !== 'string' || typeof cur.i !== 'string' || typeof cur.f !== 'boolean') throw invalid('Malformed cursor was used.');
  }
  // The cursor's own direction wins: a prev cursor walks the other way.
  const forward = cur ? cur.f : opts.forward;
  const after = cur
    ? forward
      ? sql`and (create_time, id) > (${cur.t}::timestamptz, ${cur.i}::uuid)`
      : sql`and (create_time, id) < (${cur.t}::timestamptz, ${cur.i}::uuid)`
    : sql``;
  const rows = await query<Row>(
    em,
    sql`select id, code, sender_id, username, content::text as content, create_time, update_time, create_time::text as ct
        from message where ${inChannel(c)} ${after}
        order by create_time ${forward ? sql`asc` : sql`desc`}, id ${forward ? sql`asc` : sql`desc`}
        limit ${opts.limit + 1}`,
  );
  const more = rows.length > opts.limit;
  const page = rows.slice(0, opts.limit);
  const first = page[0];
  const last = page[page.length - 1];
  return {
    messages: page.map((r) => toMessage(c, fromRow(r))),
    ...(more && last ? { nextCursor: encode({ t: last.ct, i: last.id, f: forward }) } : {}),
    ...(cur && first ? { prevCursor: encode({ t: first.ct, i: first.id, f: !forward }) } : {}),
  };
}

/** A realtime chat message that names a channel other than the room it was sent to. */
export class ChannelMismatch extends AppError {
  constructor() {
    super(Code.INVALID_ARGUMENT, 'The message names another channel than this room.');
  }
}
