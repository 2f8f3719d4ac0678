/**
 * Roles in a group (Nakama's KickGroupUsers, BanGroupUsers, PromoteGroupUsers, DemoteGroupUsers),
 * with Nakama's rules. The caller must be an admin or superadmin (or the server, which acts as a
 * superadmin); the caller is never a target; targets the caller may not touch are skipped silently.
 * - kick / ban: superadmins remove anyone, admins only members, join requests and banned users; the
 *   last superadmin stays. Kicking a banned user lifts the ban (Nakama has no other unban). Only
 *   users with an edge can be banned. Kicking a join request rejects it.
 * - promote: one step up, only to a role above the target's and no higher than the caller's own
 *   (member → admin, admin → superadmin by a superadmin); join requests are accepted by adding,
 *   not promoting.
 * - demote: one step down, for targets at or below the caller's role (admins demote admins too),
 *   never below member, never the last superadmin.
 * Each runs under the group's row lock, so the superadmin count it sees is the count at commit.
 */
import { query, queryOne, run, sql, type Em } from './db.js';
import { authorize, GroupRole, NOW_POSITION, type GroupCaller } from './groups.js';
import { removeMembers } from './group-members.js';
import { inTransaction } from './tx.js';

interface Plan {
  myState: number;
  targets: { userId: string; state: number }[];
  superadmins: number;
}

/** Locks the group, checks the caller, and reads the targets' states and the superadmin count. */
async function plan(tx: Em, caller: GroupCaller, groupId: string, userIds: readonly string[]): Promise<Plan> {
  const ids = [...new Set(userIds)].filter((id) => caller === 'server' || id !== caller.userId).sort();
  const { myState } = await authorize(tx, caller, groupId);
  if (ids.length === 0) return { myState, targets: [], superadmins: 0 };
  const rows = await query<{ user_id: string; state: number }>(
    tx,
    sql`select user_id, state from group_edge where group_id = ${groupId} and user_id = any(${ids}::uuid[]) order by user_id`,
  );
  const count = await queryOne<{ n: number }>(
    tx,
    sql`select count(*)::int as n from group_edge where group_id = ${groupId} and state = ${GroupRole.SUPERADMIN}`,
  );
  return { myState, targets: rows.map((r) => ({ userId: r.user_id, state: r.state })), superadmins: count?.n ?? 0 };
}

async function removeOrBan(em: Em, caller: GroupCaller, groupId: string, userIds: readonly string[], ban: boolean): Promise<void> {
  await inTransaction(em, async (tx) => {
    const p = await plan(tx, caller, groupId, userIds);
    let members = 0;
    for (const t of p.targets) {
      if (p.myState !== GroupRole.SUPERADMIN && t.state <= GroupRole.ADMIN) continue;
      if (t.state === GroupRole.SUPERADMIN && p.superadmins <= 1) continue;
      if (ban && t.state === GroupRole.BANNED) continue;
      if (ban) {
        await run(
          tx,
          sql`update group_edge set state = ${GroupRole.BANNED}, position = ${NOW_POSITION}, update_time = now()
              where group_id = ${groupId} and user_id = ${t.userId}`,
        );
      } else {
        await run(tx, sql`delete from group_edge where group_id = ${groupId} and user_id = ${t.userId}`);
      }
      if (t.state === GroupRole.SUPERADMIN) p.superadmins--;
      if (t.state <= GroupRole.MEMBER) members++;
    }
    await removeMembers(tx, groupId, members);
  });
}

/** Removes users from a group (and rejects join requests, and lifts bans). */
export function kickGroupUsers(em: Em, caller: GroupCaller, groupId: string, userIds: readonly string[]): Promise<void> {
  return removeOrBan(em, caller, groupId, userIds, false);
}

/** Bans users who have an edge to the group: they stay out until kicked (unbanned). */
export function banGroupUsers(em: Em, caller: GroupCaller, groupId: string, userIds: readonly string[]): Promise<void> {
  return removeOrBan(em, caller, groupId, userIds, true);
}

async function setState(tx: Em, groupId: string, userId: string, state: number): Promise<void> {
  await run(tx, sql`update group_edge set state = ${state}, update_time = now() where group_id = ${groupId} and user_id = ${userId}`);
}

/** Moves members up one role: member → admin, admin → superadmin (the latter by superadmins only). */
export async function promoteGroupUsers(em: Em, caller: GroupCaller, groupId: string, userIds: readonly string[]): Promise<void> {
  await inTransaction(em, async (tx) => {
    const p = await plan(tx, caller, groupId, userIds);
    for (const t of p.targets) {
      if (t.state < GroupRole.ADMIN || t.state > GroupRole.MEMBER || t.state <= p.myState) continue;
      await setState(tx, groupId, t.userId, t.state - 1);
    }
  });
}

/** Moves members down one role: superadmin → admin (while another remains), admin → member. */
export async function demoteGroupUsers(em: Em, caller: GroupCaller, groupId: string, userIds: readonly string[]): Promise<void> {
  await inTransaction(em, async (tx) => {
    const p = await plan(tx, caller, groupId, userIds);
    for (const t of p.targets) {
      if (t.state < p.myState || t.state >= GroupRole.MEMBER) continue;
      if (t.state === GroupRole.SUPERADMIN) {
        if (p.superadmins <= 1) continue;
        p.superadmins--;
      }
      await setState(tx, groupId, t.userId, t.state + 1);
    }
  });
}
