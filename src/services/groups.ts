/**
 * Groups (Nakama's core_group), the group record: create, update, delete and read, and the row lock
 * every membership change takes. Membership lives in group-members.ts and group-roles.ts, listings
 * in group-lists.ts.
 *
 * Concurrency: every change to a group's members or roles runs in one transaction that first locks
 * the group's row (`SELECT … FOR UPDATE`), then reads and writes its edges and `edge_count`. So
 * changes to one group happen one at a time: a group never ends over `max_count`, and two
 * superadmins leaving at once cannot both see the other one staying. A transaction that adds an
 * edge for a user takes a key-share lock on that user's row before the group's, the same order as
 * account deletion (user, then groups), so the two cannot deadlock.
 */
import { randomBytes } from 'node:crypto';
import { AppError, Code, exists, invalid, notFound } from '../errors.js';
import type { RawBuilder } from 'kysely';
import { query, queryOne, run, sql, toDate, uniqueViolation, type Em } from './db.js';
import { SYSTEM_USER_ID } from './storage.js';
import { inTransaction } from './tx.js';
import * as v from './validation.js';

/** A user's state in a group (Nakama's GroupUserList.GroupUser.State; banned is stored as 4). */
export const GroupRole = { SUPERADMIN: 0, ADMIN: 1, MEMBER: 2, JOIN_REQUEST: 3, BANNED: 4 } as const;
export type GroupRole = (typeof GroupRole)[keyof typeof GroupRole];

/** Who acts: a user (role rules apply) or server code (they don't). */
export type GroupCaller = { userId: string } | 'server';

/** Nakama's `Group`. */
export interface Group {
  id: string;
  creatorId: string;
  name: string;
  description?: string;
  avatarUrl?: string;
  langTag: string;
  metadata: Record<string, unknown>;
  open: boolean;
  edgeCount: number;
  maxCount: number;
  createTime: Date;
  updateTime: Date;
}

export interface GroupRow {
  id: string;
  creator_id: string | null;
  name: string;
  description: string | null;
  avatar_url: string | null;
  lang_tag: string;
  metadata: Record<string, unknown> | string;
  state: number;
  edge_count: number;
  max_count: number;
  create_time: Date | string;
  update_time: Date | string;
}

export const GROUP_COLUMNS = sql.raw(
  'g.id, g.creator_id, g.name, g.description, g.avatar_url, g.lang_tag, g.metadata, g.state, g.edge_count, g.max_count, g.create_time, g.update_time',
);

export function toGroup(r: GroupRow): Group {
  return {
    id: r.id,
    creatorId: r.creator_id ?? SYSTEM_USER_ID,
    name: r.name,
    ...(r.description ? { description: r.description } : {}),
    ...(r.avatar_url ? { avatarUrl: r.avatar_url } : {}),
    langTag: r.lang_tag,
    metadata: typeof r.metadata === 'string' ? (JSON.parse(r.metadata) as Record<string, unknown>) : r.metadata,
    open: r.state === 0,
    edgeCount: r.edge_count,
    maxCount: r.max_count,
    createTime: toDate(r.create_time),
    updateTime: toDate(r.update_time),
  };
}

export const NAME_IN_USE = 'Group name is in use.';
/** Nakama answers a refused membership change as if the group did not exist. */
export const PERMISSION_DENIED = 'Group not found or permission denied.';
export const GROUP_NOT_FOUND = 'Group not found.';

/** The position of a new or changed edge: the database clock in microseconds (Nakama: nanoseconds). */
export const NOW_POSITION = sql`(extract(epoch from clock_timestamp()) * 1000000)::bigint`;

/**
 * A version 7 UUID: group ids sort by creation time, so the unfiltered listing pages by id alone
 * (a key that never changes) and still shows groups oldest first.
 */
function uuidV7(): string {
  const b = randomBytes(16);
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Fields of a group; `undefined` leaves a field alone on update, `""` clears description and avatar. */
export interface GroupFields {
  name?: string;
  description?: string;
  langTag?: string;
  avatarUrl?: string;
  open?: boolean;
  /** Only server code sets metadata, the creator id and (on update) the maximum count. */
  metadata?: Record<string, unknown>;
  creatorId?: string;
  maxCount?: number;
}

const noNul = (s: string) => !s.includes('\u0000');

function checkFields(f: GroupFields): void {
  if (f.name !== undefined) {
    if (f.name === '') throw invalid('Group name cannot be empty.');
    if (f.name.length > 255 || !noNul(f.name)) throw invalid('Group name must be at most 255 characters, without NUL characters.');
  }
  if (f.description !== undefined && (f.description.length > 255 || !noNul(f.description)))
    throw invalid('Group description must be at most 255 characters, without NUL characters.');
  if (f.langTag !== undefined) {
    if (f.langTag === '') throw invalid('Group language cannot be empty.');
    if (!v.langTag.safeParse(f.langTag).success) throw invalid('Group language must be at most 18 characters.');
  }
  if (f.avatarUrl !== undefined && !v.avatarUrl.safeParse(f.avatarUrl).success)
    throw invalid('Group avatar URL must be at most 512 characters.');
  if (f.maxCount !== undefined && (!Number.isInteger(f.maxCount) || f.maxCount < 1 || f.maxCount > 2 ** 31 - 1))
    throw invalid('Group max count must be >= 1 when set.');
  if (f.metadata !== undefined && (typeof f.metadata !== 'object' || f.metadata === null || Array.isArray(f.metadata)))
    throw invalid('Group metadata must be a JSON object.');
  if (f.creatorId !== undefined && !v.uuid.safeParse(f.creatorId).success) throw invalid('Creator ID must be a valid ID.');
}

/** Takes a key-share lock on users' rows (they cannot be deleted until commit); returns the usernames found. */
export async function lockUsers(tx: Em, userIds: readonly string[]): Promise<Map<string, string>> {
  const sorted = [...new Set(userIds)].sort();
  const rows = await query<{ id: string; username: string }>(
    tx,
    sql`select id, username from users where id = any(${sorted}::uuid[]) order by id for key share`,
  );
  return new Map(rows.map((r) => [r.id, r.username]));
}

export interface LockedGroup {
  id: string;
  name: string;
  open: boolean;
  edgeCount: number;
  maxCount: number;
}

/** Locks a group's row for a membership change; undefined when the group does not exist. */
export async function lockGroup(tx: Em, groupId: string): Promise<LockedGroup | undefined> {
  const row = await queryOne<{ id: string; name: string; state: number; edge_count: number; max_count: number }>(
    tx,
    sql`select id, name, state, edge_count, max_count from groups where id = ${groupId} for update`,
  );
  return row && { id: row.id, name: row.name, open: row.state === 0, edgeCount: row.edge_count, maxCount: row.max_count };
}

/** A user's state in a group, if they have an edge to it. */
export async function edgeState(em: Em, groupId: string, userId: string): Promise<number | undefined> {
  const row = await queryOne<{ state: number }>(em, sql`select state from group_edge where group_id = ${groupId} and user_id = ${userId}`);
  return row?.state;
}

/**
 * Locks the group and checks that the caller may manage its members (admin or superadmin).
 * Returns the caller's state (0 for the server). Like Nakama, a missing group and a refusal look
 * the same to a user.
 */
export async function authorize(tx: Em, caller: GroupCaller, groupId: string): Promise<{ group: LockedGroup; myState: number }> {
  const group = await lockGroup(tx, groupId);
  if (!group) throw notFound(caller === 'server' ? GROUP_NOT_FOUND : PERMISSION_DENIED);
  if (caller === 'server') return { group, myState: GroupRole.SUPERADMIN };
  const myState = await edgeState(tx, groupId, caller.userId);
  if (myState === undefined || myState > GroupRole.ADMIN) throw notFound(PERMISSION_DENIED);
  return { group, myState };
}

/** Creates a group with `userId` as its superadmin and only member. */
export async function createGroup(em: Em, userId: string, fields: GroupFields & { name: string }): Promise<Group> {
  checkFields(fields);
  if (!v.uuid.safeParse(userId).success) throw invalid('User ID must be a valid ID.');
  return inTransaction(em, async (tx) => {
    if ((await lockUsers(tx, [userId])).size === 0) throw notFound('User not found.');
    const row = await queryOne<GroupRow>(
      tx,
      sql`insert into groups as g (id, creator_id, name, description, avatar_url, lang_tag, metadata, state, edge_count, max_count)
          values (${uuidV7()}, ${fields.creatorId ?? userId}, ${fields.name}, ${fields.description || null}, ${fields.avatarUrl || null},
                  ${fields.langTag || 'en'}, ${JSON.stringify(fields.metadata ?? {})}::jsonb, ${fields.open ? 0 : 1}, 1, ${fields.maxCount ?? 100})
          on conflict (name) do nothing
          returning ${GROUP_COLUMNS}`,
    );
    if (!row) throw exists(NAME_IN_USE);
    await run(
      tx,
      sql`insert into group_edge (group_id, user_id, state, position) values (${row.id}, ${userId}, ${GroupRole.SUPERADMIN}, ${NOW_POSITION})`,
    );
    return toGroup(row);
  });
}

/** Updates a group: by its admins and superadmins, or by the server (which alone sets metadata, creator and max count). */
export async function updateGroup(em: Em, caller: GroupCaller, groupId: string, fields: GroupFields): Promise<void> {
  checkFields(fields);
  const sets: RawBuilder<unknown>[] = [];
  if (fields.name !== undefined) sets.push(sql`name = ${fields.name}`);
  if (fields.langTag !== undefined) sets.push(sql`lang_tag = ${fields.langTag}`);
  if (fields.description !== undefined) sets.push(sql`description = ${fields.description || null}`);
  if (fields.avatarUrl !== undefined) sets.push(sql`avatar_url = ${fields.avatarUrl || null}`);
  if (fields.open !== undefined) sets.push(sql`state = ${fields.open ? 0 : 1}`);
  if (caller === 'server') {
    if (fields.metadata !== undefined) sets.push(sql`metadata = ${JSON.stringify(fields.metadata)}::jsonb`);
    if (fields.maxCount !== undefined) sets.push(sql`max_count = ${fields.maxCount}`);
    if (fields.creatorId !== undefined) sets.push(sql`creator_id = ${fields.creatorId}`);
  }
  if (sets.length === 0) throw invalid('Specify at least one field to update.');
  try {
    await inTransaction(em, async (tx) => {
      const group = await lockGroup(tx, groupId);
      const state = group && caller !== 'server' ? await edgeState(tx, groupId, caller.userId) : undefined;
      if (!group || (caller !== 'server' && (state === undefined || state > GroupRole.ADMIN)))
        throw notFound(caller === 'server' ? GROUP_NOT_FOUND : "Group not found or you're not allowed to update.");
      await run(tx, sql`update groups set ${sql.join(sets)}, update_time = now() where id = ${groupId}`);
    });
  } catch (err) {
    // Nakama answers a taken name on update with InvalidArgument (on create, AlreadyExists).
    if (uniqueViolation(err) === 'groups_name_unique') throw new AppError(Code.INVALID_ARGUMENT, NAME_IN_USE, { cause: err });
    throw err;
  }
}

/** Deletes a group and its edges: by a superadmin, or by the server (a no-op when it does not exist). */
export async function deleteGroup(em: Em, caller: GroupCaller, groupId: string): Promise<void> {
  await inTransaction(em, async (tx) => {
    const group = await lockGroup(tx, groupId);
    if (caller !== 'server') {
      const state = group ? await edgeState(tx, groupId, caller.userId) : undefined;
      if (state !== GroupRole.SUPERADMIN) throw invalid("Group not found or you're not allowed to delete.");
    }
    if (group) await run(tx, sql`delete from groups where id = ${groupId}`);
  });
}

/** Groups by id; unknown ids are left out. */
export async function getGroups(em: Em, ids: readonly string[]): Promise<Group[]> {
  for (const id of ids) if (!v.uuid.safeParse(id).success) throw invalid(`Invalid group ID '${id}'.`);
  if (ids.length === 0) return [];
  const rows = await query<GroupRow>(em, sql`select ${GROUP_COLUMNS} from groups g where g.id = any(${[...ids]}::uuid[])`);
  return rows.map(toGroup);
}

/** Whether a user is a member of a group (superadmin, admin or member): who may use its chat channel. */
export async function isMember(em: Em, groupId: string, userId: string): Promise<boolean> {
  const row = await queryOne(
    em,
    sql`select 1 as one from group_edge where group_id = ${groupId} and user_id = ${userId} and state <= ${GroupRole.MEMBER}`,
  );
  return row !== undefined;
}
