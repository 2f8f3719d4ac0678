/**
 * Group membership (Nakama's JoinGroup, LeaveGroup, AddGroupUsers and GroupDeleteAll): every change
 * runs under the group's row lock (groups.ts), and `edge_count` — superadmins, admins and members,
 * not join requests or bans — changes in the same transaction. Notifications go out after commit.
 */
import { invalid, notFound } from '../errors.js';
import { query, queryOne, run, sql, type Em } from './db.js';
import { authorize, edgeState, GroupRole, lockGroup, lockUsers, NOW_POSITION, type GroupCaller } from './groups.js';
import { NotificationCode, sendNotifications, type NotificationInput } from './notifications.js';
import type { Publisher } from './ports.js';
import { inTransaction } from './tx.js';

export const GROUP_FULL = 'Group is full.';
export const LAST_SUPERADMIN = 'Cannot leave group when you are the last superadmin.';

/** Adds `n` to a group's member count, refusing to pass its maximum. */
async function addMembers(tx: Em, groupId: string, n: number): Promise<void> {
  if (n === 0) return;
  const changed = await run(
    tx,
    sql`update groups set edge_count = edge_count + ${n}, update_time = now() where id = ${groupId} and edge_count + ${n} <= max_count`,
  );
  if (changed === 0) throw invalid(GROUP_FULL);
}

/** Takes `n` off a group's member count. */
export async function removeMembers(tx: Em, groupId: string, n: number): Promise<void> {
  if (n === 0) return;
  await run(tx, sql`update groups set edge_count = edge_count - ${n}, update_time = now() where id = ${groupId}`);
}

/**
 * Joins a group: an open group makes the user a member, a closed one records a join request and
 * notifies its admins and superadmins (code -5). A user who already has an edge — member, pending
 * request or banned — is left as they are, without an error, as in Nakama.
 */
export async function joinGroup(em: Em, publisher: Publisher, groupId: string, userId: string): Promise<void> {
  const notify = await inTransaction(em, async (tx) => {
    const username = (await lockUsers(tx, [userId])).get(userId);
    if (username === undefined) throw notFound('User not found.');
    const group = await lockGroup(tx, groupId);
    if (!group) throw notFound('Group not found.');
    if ((await edgeState(tx, groupId, userId)) !== undefined) return [];
    if (group.edgeCount >= group.maxCount) throw invalid(GROUP_FULL);
    const state = group.open ? GroupRole.MEMBER : GroupRole.JOIN_REQUEST;
    await run(
      tx,
      sql`insert into group_edge (group_id, user_id, state, position) values (${groupId}, ${userId}, ${state}, ${NOW_POSITION})`,
    );
    if (group.open) {
      await addMembers(tx, groupId, 1);
      return [];
    }
    const admins = await query<{ user_id: string }>(
      tx,
      sql`select user_id from group_edge where group_id = ${groupId} and state <= ${GroupRole.ADMIN} order by user_id`,
    );
    return admins.map((a): NotificationInput => ({
      userId: a.user_id,
      subject: `User ${username} wants to join your group`,
      content: { group_id: groupId, username },
      code: NotificationCode.GROUP_JOIN_REQUEST,
      senderId: userId,
      persistent: true,
    }));
  });
  await sendNotifications(em, publisher, notify, { system: true });
}

/**
 * Leaves a group. Nothing happens without an edge or when banned (a ban outlives leaving). The
 * last superadmin cannot leave while others are members; when nobody else is, the group is deleted.
 * A pending join request is withdrawn.
 */
export async function leaveGroup(em: Em, groupId: string, userId: string): Promise<void> {
  await inTransaction(em, async (tx) => {
    if (!(await lockGroup(tx, groupId))) return;
    const state = await edgeState(tx, groupId, userId);
    if (state === undefined || state === GroupRole.BANNED) return;
    if (state === GroupRole.SUPERADMIN) {
      const others = await queryOne<{ superadmins: number; members: number }>(
        tx,
        sql`select count(*) filter (where state = ${GroupRole.SUPERADMIN})::int as superadmins,
                   count(*) filter (where state <= ${GroupRole.MEMBER})::int as members
            from group_edge where group_id = ${groupId} and user_id <> ${userId}`,
      );
      if (!others || others.superadmins === 0) {
        if (!others || others.members === 0) {
          await run(tx, sql`delete from groups where id = ${groupId}`);
          return;
        }
        throw invalid(LAST_SUPERADMIN);
      }
    }
    await run(tx, sql`delete from group_edge where group_id = ${groupId} and user_id = ${userId}`);
    if (state <= GroupRole.MEMBER) await removeMembers(tx, groupId, 1);
  });
}

/**
 * Adds users as members (admins, superadmins or the server), accepting their join requests; each
 * added user is notified (code -4). Current members and banned users are left as they are: a ban
 * holds until a kick lifts it. All or nothing: an unknown user or a full group refuses the batch.
 */
export async function addGroupUsers(
  em: Em,
  publisher: Publisher,
  caller: GroupCaller,
  groupId: string,
  userIds: readonly string[],
): Promise<void> {
  const ids = [...new Set(userIds)].filter((id) => caller === 'server' || id !== caller.userId).sort();
  if (ids.length === 0) return;
  const notify = await inTransaction(em, async (tx) => {
    const usernames = await lockUsers(tx, ids);
    const { group } = await authorize(tx, caller, groupId);
    if (usernames.size < ids.length) throw invalid('One or more users not found.');
    const edges = await query<{ user_id: string; state: number }>(
      tx,
      sql`select user_id, state from group_edge where group_id = ${groupId} and user_id = any(${ids}::uuid[])`,
    );
    const states = new Map(edges.map((e) => [e.user_id, e.state]));
    const added = ids.filter((id) => !states.has(id) || states.get(id) === GroupRole.JOIN_REQUEST);
    if (added.length === 0) return [];
    await addMembers(tx, groupId, added.length);
    await run(
      tx,
      sql`insert into group_edge (group_id, user_id, state, position)
          select ${groupId}, u.id, ${GroupRole.MEMBER}, ${NOW_POSITION} from unnest(${added}::uuid[]) as u(id)
          on conflict (group_id, user_id) do update set state = excluded.state, update_time = now()`,
    );
    return added.map((userId): NotificationInput => ({
      userId,
      subject: `You've been added to group ${group.name}`,
      content: { group_id: groupId, name: group.name },
      code: NotificationCode.GROUP_ADD,
      ...(caller !== 'server' ? { senderId: caller.userId } : {}),
      persistent: true,
    }));
  });
  await sendNotifications(em, publisher, notify, { system: true });
}

/**
 * Removes a user from every group (account deletion; call inside its transaction, before the user
 * row goes). Member counts drop; a group left without a superadmin passes to its oldest admin, or
 * its oldest member when it has no admin, and is deleted when no member remains.
 */
export async function removeUserFromGroups(tx: Em, userId: string): Promise<void> {
  // Locking the user first keeps new edges out (they need a key-share lock on this row) and
  // matches the order of joins and adds: user rows, then group rows.
  await query(tx, sql`select id from users where id = ${userId} for update`);
  const groupIds = (
    await query<{ group_id: string }>(tx, sql`select group_id from group_edge where user_id = ${userId} order by group_id`)
  ).map((r) => r.group_id);
  if (groupIds.length === 0) return;
  await query(tx, sql`select id from groups where id = any(${groupIds}::uuid[]) order by id for update`);
  for (const groupId of groupIds) {
    const gone = await queryOne<{ state: number }>(
      tx,
      sql`delete from group_edge where group_id = ${groupId} and user_id = ${userId} returning state`,
    );
    if (!gone) continue;
    if (gone.state <= GroupRole.MEMBER) await removeMembers(tx, groupId, 1);
    if (gone.state !== GroupRole.SUPERADMIN) continue;
    const remaining = await queryOne<{ user_id: string; state: number }>(
      tx,
      sql`select user_id, state from group_edge where group_id = ${groupId} and state <= ${GroupRole.MEMBER}
          order by state, position, user_id limit 1`,
    );
    if (!remaining) await run(tx, sql`delete from groups where id = ${groupId}`);
    else if (remaining.state !== GroupRole.SUPERADMIN)
      await run(
        tx,
        sql`update group_edge set state = ${GroupRole.SUPERADMIN}, update_time = now() where group_id = ${groupId} and user_id = ${remaining.user_id}`,
      );
  }
}
