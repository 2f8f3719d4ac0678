/**
 * Groups against a real server with nakama-js: Nakama's role rules including every refusal, and
 * bans.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@heroiclabs/nakama-js';
import { groupsHelpers, refused, startGroupsServer } from '../support/groups.js';
import type { TestServer } from '../support/server.js';

let s: TestServer;
let client: Client;
before(async () => {
  ({ s, client } = await startGroupsServer());
});
after(async () => {
  await s?.stop();
});
const { user, users, nk, uniqueName, states, group, create } = groupsHelpers(() => ({ s, client }));

describe('role rules', () => {
  /** A group with a superadmin, an admin and two members. */
  async function team() {
    const [sa, admin, m1, m2] = await users(4);
    const g = await create(sa, true);
    for (const u of [admin, m1, m2]) await client.joinGroup(u, g.id!);
    await client.promoteGroupUsers(sa, g.id!, [admin.user_id!]);
    assert.equal((await states(g.id!)).get(admin.user_id!), 1);
    return { g, sa, admin, m1, m2 };
  }
  const DENIED = 'Group not found or permission denied.';

  test('a member cannot add, kick, ban, promote, demote, update or delete', async () => {
    const { g, sa, admin, m1, m2 } = await team();
    const outsider = await user();
    await refused(client.addGroupUsers(m1, g.id!, [outsider.user_id!]), 404, DENIED);
    await refused(client.kickGroupUsers(m1, g.id!, [m2.user_id!]), 404, DENIED);
    await refused(client.banGroupUsers(m1, g.id!, [m2.user_id!]), 404, DENIED);
    await refused(client.promoteGroupUsers(m1, g.id!, [m2.user_id!]), 404, DENIED);
    await refused(client.demoteGroupUsers(m1, g.id!, [admin.user_id!]), 404, DENIED);
    await refused(client.updateGroup(m1, g.id!, { name: uniqueName() }), 404, "Group not found or you're not allowed to update.");
    await refused(client.deleteGroup(m1, g.id!), 400, "Group not found or you're not allowed to delete.");
    // Nor can someone outside the group.
    await refused(client.kickGroupUsers(outsider, g.id!, [m2.user_id!]), 404, DENIED);
    const st = await states(g.id!);
    assert.deepEqual(
      [sa, admin, m1, m2].map((u) => st.get(u.user_id!)),
      [0, 1, 2, 2],
    );
    assert.equal(st.has(outsider.user_id!), false);
  });

  test('an admin cannot delete the group, nor kick, ban or demote a superadmin; it may update and kick members', async () => {
    const { g, sa, admin, m1 } = await team();
    await refused(client.deleteGroup(admin, g.id!), 400, "Group not found or you're not allowed to delete.");
    await client.kickGroupUsers(admin, g.id!, [sa.user_id!]);
    await client.banGroupUsers(admin, g.id!, [sa.user_id!]);
    await client.demoteGroupUsers(admin, g.id!, [sa.user_id!]);
    assert.equal((await states(g.id!)).get(sa.user_id!), 0);
    await client.updateGroup(admin, g.id!, { description: 'by the admin' });
    assert.equal((await group(g.id!))!.description, 'by the admin');
    await client.kickGroupUsers(admin, g.id!, [m1.user_id!]);
    assert.equal((await states(g.id!)).has(m1.user_id!), false);
    assert.equal((await group(g.id!))!.edgeCount, 3);
  });

  test('promote: one step up, never above the caller, nobody above superadmin', async () => {
    const { g, sa, admin, m1, m2 } = await team();
    // An admin makes a member an admin, but cannot make an admin a superadmin.
    await client.promoteGroupUsers(admin, g.id!, [m1.user_id!]);
    assert.equal((await states(g.id!)).get(m1.user_id!), 1);
    await client.promoteGroupUsers(admin, g.id!, [m1.user_id!]);
    assert.equal((await states(g.id!)).get(m1.user_id!), 1);
    // A superadmin does; promoting a superadmin changes nothing, for the server too.
    await client.promoteGroupUsers(sa, g.id!, [m1.user_id!]);
    assert.equal((await states(g.id!)).get(m1.user_id!), 0);
    await client.promoteGroupUsers(sa, g.id!, [m1.user_id!]);
    await nk().groupUsersPromote(g.id!, [m1.user_id!, sa.user_id!]);
    // One step at a time, even for the server.
    await nk().groupUsersPromote(g.id!, [m2.user_id!]);
    const st = await states(g.id!);
    assert.deepEqual(
      [sa, admin, m1, m2].map((u) => st.get(u.user_id!)),
      [0, 1, 0, 1],
    );
    // Promoting oneself is ignored.
    await client.promoteGroupUsers(admin, g.id!, [admin.user_id!]);
    assert.equal((await states(g.id!)).get(admin.user_id!), 1);
  });

  test('demote: one step down, admins demote admins, never below member, never the last superadmin', async () => {
    const { g, sa, admin, m1, m2 } = await team();
    await client.promoteGroupUsers(sa, g.id!, [m1.user_id!]);
    // As in Nakama, an admin may demote another admin.
    await client.demoteGroupUsers(admin, g.id!, [m1.user_id!]);
    assert.equal((await states(g.id!)).get(m1.user_id!), 2);
    // A member stays a member.
    await client.demoteGroupUsers(sa, g.id!, [m2.user_id!]);
    assert.equal((await states(g.id!)).get(m2.user_id!), 2);
    // The server cannot demote the only superadmin...
    await nk().groupUsersDemote(g.id!, [sa.user_id!]);
    assert.equal((await states(g.id!)).get(sa.user_id!), 0);
    // ...but a superadmin can demote another one.
    await client.promoteGroupUsers(sa, g.id!, [admin.user_id!]);
    assert.equal((await states(g.id!)).get(admin.user_id!), 0);
    await client.demoteGroupUsers(sa, g.id!, [admin.user_id!]);
    assert.equal((await states(g.id!)).get(admin.user_id!), 1);
    await refused(client.demoteGroupUsers(sa, g.id!, []), 400, 'User IDs must be set.');
  });

  test('the last superadmin cannot leave while others are members; once another is promoted it can', async () => {
    const { g, sa, admin } = await team();
    await refused(client.leaveGroup(sa, g.id!), 400, 'Cannot leave group when you are the last superadmin.');
    await client.promoteGroupUsers(sa, g.id!, [admin.user_id!]);
    await client.leaveGroup(sa, g.id!);
    const st = await states(g.id!);
    assert.equal(st.has(sa.user_id!), false);
    assert.equal(st.get(admin.user_id!), 0);
    assert.equal((await group(g.id!))!.edgeCount, 3);
  });

  test('a superadmin alone in the group deletes it by leaving', async () => {
    const [a, b] = await users(2);
    const g = await create(a, false);
    await client.joinGroup(b, g.id!); // a join request is not a member
    await client.leaveGroup(a, g.id!);
    assert.equal(await group(g.id!), undefined);
  });

  test('superadmins may kick each other but never the last one', async () => {
    const { g, sa, admin } = await team();
    await client.promoteGroupUsers(sa, g.id!, [admin.user_id!]);
    await client.kickGroupUsers(admin, g.id!, [sa.user_id!]);
    assert.equal((await states(g.id!)).has(sa.user_id!), false);
    await nk().groupUsersKick(g.id!, [admin.user_id!]);
    assert.equal((await states(g.id!)).get(admin.user_id!), 0);
  });
});

describe('bans', () => {
  test('a banned user cannot rejoin or be re-added until a kick lifts the ban', async () => {
    const [a, b, admin] = await users(3);
    const g = await create(a, true);
    await client.joinGroup(b, g.id!);
    await client.joinGroup(admin, g.id!);
    await client.promoteGroupUsers(a, g.id!, [admin.user_id!]);
    await client.banGroupUsers(admin, g.id!, [b.user_id!]);
    assert.equal((await states(g.id!)).get(b.user_id!), 4);
    assert.equal((await group(g.id!))!.edgeCount, 2);
    // Banned users are not listed unless asked for.
    const listed = await client.listGroupUsers(a, g.id!);
    assert.equal(
      listed.group_users!.some((gu) => gu.user!.id === b.user_id),
      false,
    );
    const banned = await client.listGroupUsers(a, g.id!, 4);
    assert.deepEqual(
      banned.group_users!.map((gu) => [gu.user!.id, gu.state]),
      [[b.user_id, 4]],
    );

    // As in Nakama these succeed but change nothing.
    await client.joinGroup(b, g.id!);
    await client.addGroupUsers(a, g.id!, [b.user_id!]);
    await nk().groupUsersAdd(g.id!, [b.user_id!]);
    await client.leaveGroup(b, g.id!);
    await client.promoteGroupUsers(a, g.id!, [b.user_id!]);
    assert.equal((await states(g.id!)).get(b.user_id!), 4);
    assert.equal((await group(g.id!))!.edgeCount, 2);
    assert.equal((await client.listNotifications(b, 100)).notifications!.filter((x) => x.code === -4).length, 0);

    // Kicking the banned user lifts the ban (admins may, as in Nakama).
    await client.kickGroupUsers(admin, g.id!, [b.user_id!]);
    assert.equal((await states(g.id!)).has(b.user_id!), false);
    await client.joinGroup(b, g.id!);
    assert.equal((await states(g.id!)).get(b.user_id!), 2);
    assert.equal((await group(g.id!))!.edgeCount, 3);
  });

  test('admins ban members and join requests but not admins; only users with an edge can be banned', async () => {
    const [a, admin1, admin2, requester, stranger] = await users(5);
    const g = await create(a, false);
    await nk().groupUsersAdd(g.id!, [admin1.user_id!, admin2.user_id!]);
    await nk().groupUsersPromote(g.id!, [admin1.user_id!, admin2.user_id!]);
    await client.joinGroup(requester, g.id!);
    await client.banGroupUsers(admin1, g.id!, [admin2.user_id!, requester.user_id!, stranger.user_id!]);
    const st = await states(g.id!);
    assert.equal(st.get(admin2.user_id!), 1);
    assert.equal(st.get(requester.user_id!), 4);
    assert.equal(st.has(stranger.user_id!), false);
    // A banned join request never counted as a member.
    assert.equal((await group(g.id!))!.edgeCount, 3);
  });
});
