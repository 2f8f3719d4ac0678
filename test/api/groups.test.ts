/**
 * Groups against a real server with nakama-js (and plain fetch where nakama-js has no call): the
 * lifecycle of open and closed groups, the join-request and group-add notifications, and updates
 * and deletion. Nakama's role rules and bans are in groups-roles.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@heroiclabs/nakama-js';
import { bearer, groupsHelpers, refused, startGroupsServer } from '../support/groups.js';
import { http, type TestServer } from '../support/server.js';

let s: TestServer;
let client: Client;
before(async () => {
  ({ s, client } = await startGroupsServer());
});
after(async () => {
  await s?.stop();
});
const { user, users, nk, uniqueName, states, group, create } = groupsHelpers(() => ({ s, client }));

describe('create', () => {
  test('the creator is the superadmin and only member; Nakama defaults', async () => {
    const a = await user();
    const before = Math.floor(Date.now() / 1000) * 1000;
    const g = await client.createGroup(a, {
      name: uniqueName('Knights'),
      description: 'We ride',
      avatar_url: 'https://x/a.png',
      open: true,
    });
    assert.match(g.id!, /^[0-9a-f-]{36}$/);
    assert.equal(g.creator_id, a.user_id);
    assert.equal(g.description, 'We ride');
    assert.equal(g.avatar_url, 'https://x/a.png');
    assert.equal(g.lang_tag, 'en');
    assert.deepEqual(g.metadata, {});
    assert.equal(g.open, true);
    assert.equal(g.edge_count, 1);
    assert.equal(g.max_count, 100);
    assert.ok(Date.parse(g.create_time!) >= before - 1000);
    assert.deepEqual([...(await states(g.id!))], [[a.user_id, 0]]);
    const mine = await client.listUserGroups(a, a.user_id!);
    assert.equal(mine.user_groups?.length, 1);
    assert.equal(mine.user_groups![0]!.state, 0);
    assert.equal(mine.user_groups![0]!.group!.id, g.id);
  });

  test('a closed group says open: false on the wire; lang tag and max count are kept', async () => {
    const a = await user();
    const r = await http(s.url, 'POST', '/v2/group', { auth: bearer(a), body: { name: uniqueName(), lang_tag: 'fr', max_count: 7 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.open, false);
    assert.equal(r.body.lang_tag, 'fr');
    assert.equal(r.body.max_count, 7);
    assert.equal(r.body.edge_count, 1);
    assert.equal(r.body.metadata, '{}');
    assert.equal(r.body.description, undefined);
  });

  test('names are unique (409); name required; max count >= 1; clients cannot set metadata', async () => {
    const a = await user();
    const name = uniqueName('Unique');
    await client.createGroup(a, { name, open: true });
    const dup = await refused(client.createGroup(a, { name, open: false }), 409, 'Group name is in use.');
    assert.equal(dup.code, 6);
    await refused(client.createGroup(a, { name: '' }), 400, /Group name must be set/);
    const neg = await http(s.url, 'POST', '/v2/group', { auth: bearer(a), body: { name: uniqueName(), max_count: -1 } });
    assert.equal(neg.status, 400);
    const meta = await http(s.url, 'POST', '/v2/group', { auth: bearer(a), body: { name: uniqueName(), metadata: '{"vip":true}' } });
    assert.equal(meta.status, 200);
    assert.equal(meta.body.metadata, '{}');
  });

  test('bad group ids are refused with 400', async () => {
    const a = await user();
    await refused(client.joinGroup(a, 'not-a-uuid'), 400, /Group ID must be a valid ID/);
    await refused(client.addGroupUsers(a, '00000000-0000-0000-0000-00000000000g', [a.user_id!]), 400);
    const bad = await http(s.url, 'POST', `/v2/group/${crypto.randomUUID()}/add?user_ids=nope`, { auth: bearer(a) });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /User ID must be a valid ID/);
  });
});

describe('open groups', () => {
  test('join makes a member, joining twice changes nothing, leaving takes the member out', async () => {
    const [a, b] = await users(2);
    const g = await create(a, true);
    assert.equal(await client.joinGroup(b, g.id!), true);
    assert.equal((await group(g.id!))!.edgeCount, 2);
    assert.equal((await states(g.id!)).get(b.user_id!), 2);
    await client.joinGroup(b, g.id!);
    assert.equal((await group(g.id!))!.edgeCount, 2);
    const bs = await client.listUserGroups(b, b.user_id!);
    assert.deepEqual(
      bs.user_groups?.map((ug) => [ug.group!.id, ug.state]),
      [[g.id, 2]],
    );
    await client.leaveGroup(b, g.id!);
    assert.equal((await group(g.id!))!.edgeCount, 1);
    assert.equal((await states(g.id!)).has(b.user_id!), false);
    // Leaving a group one is not in is not an error.
    await client.leaveGroup(b, g.id!);
  });

  test('joining a group that does not exist is 404; a full group is 400', async () => {
    const [a, b, c] = await users(3);
    await refused(client.joinGroup(a, crypto.randomUUID()), 404, 'Group not found.');
    const g = await create(a, true, { max_count: 2 });
    await client.joinGroup(b, g.id!);
    await refused(client.joinGroup(c, g.id!), 400, 'Group is full.');
  });
});

/** Waits for the next message published on a presence channel. */
function nextMessage(channel: string, ms = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing on ${channel} within ${ms} ms`)), ms);
    const cb = (data: unknown) => {
      clearTimeout(timer);
      void s.presence.unsubscribe(channel, cb);
      resolve(data);
    };
    void s.presence.subscribe(channel, cb);
  });
}

describe('closed groups', () => {
  test('a join is a request: admins and superadmins are notified (-5), live and stored; adding accepts it and notifies (-4)', async () => {
    const [a, admin, member, b] = await users(4);
    const name = uniqueName('Closed');
    const g = await client.createGroup(a, { name, open: false });
    await nk().groupUsersAdd(g.id!, [admin.user_id!, member.user_id!]);
    await client.promoteGroupUsers(a, g.id!, [admin.user_id!]);

    const liveA = nextMessage(`user:${a.user_id}`);
    const liveAdmin = nextMessage(`user:${admin.user_id}`);
    await client.joinGroup(b, g.id!);
    assert.equal((await states(g.id!)).get(b.user_id!), 3);
    assert.equal((await group(g.id!))!.edgeCount, 3);

    const bAccount = await client.getAccount(b);
    for (const [who, live] of [
      [a, liveA],
      [admin, liveAdmin],
    ] as const) {
      const event = await live;
      assert.equal(event.type, 'notifications');
      assert.equal(event.notifications[0].code, -5);
      assert.equal(event.notifications[0].sender_id, b.user_id);
      const list = await client.listNotifications(who, 100);
      const got = list.notifications!.filter((x) => x.code === -5);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.subject, `User ${bAccount.user!.username} wants to join your group`);
      assert.deepEqual(got[0]!.content, { group_id: g.id, username: bAccount.user!.username });
      assert.equal(got[0]!.sender_id, b.user_id);
      assert.equal(got[0]!.persistent, true);
    }
    // A plain member is not asked.
    assert.equal((await client.listNotifications(member, 100)).notifications!.filter((x) => x.code === -5).length, 0);
    // Asking again neither duplicates the request nor notifies again.
    await client.joinGroup(b, g.id!);
    assert.equal((await client.listNotifications(a, 100)).notifications!.filter((x) => x.code === -5).length, 1);

    const liveB = nextMessage(`user:${b.user_id}`);
    await client.addGroupUsers(admin, g.id!, [b.user_id!]);
    assert.equal((await states(g.id!)).get(b.user_id!), 2);
    assert.equal((await group(g.id!))!.edgeCount, 4);
    const added = await liveB;
    assert.equal(added.notifications[0].code, -4);
    const list = (await client.listNotifications(b, 100)).notifications!.filter((x) => x.code === -4);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.subject, `You've been added to group ${name}`);
    assert.deepEqual(list[0]!.content, { group_id: g.id, name });
    assert.equal(list[0]!.sender_id, admin.user_id);
  });

  test('kicking a join request rejects it; leaving withdraws one; neither touches the count', async () => {
    const [a, b, c] = await users(3);
    const g = await create(a, false);
    await client.joinGroup(b, g.id!);
    await client.joinGroup(c, g.id!);
    await client.kickGroupUsers(a, g.id!, [b.user_id!]);
    await client.leaveGroup(c, g.id!);
    assert.deepEqual([...(await states(g.id!)).keys()], [a.user_id]);
    assert.equal((await group(g.id!))!.edgeCount, 1);
  });

  test('a join request cannot be promoted (Nakama accepts requests by adding)', async () => {
    const [a, b] = await users(2);
    const g = await create(a, false);
    await client.joinGroup(b, g.id!);
    await client.promoteGroupUsers(a, g.id!, [b.user_id!]);
    assert.equal((await states(g.id!)).get(b.user_id!), 3);
  });

  test('adding a user who does not exist refuses the whole batch', async () => {
    const [a, b] = await users(2);
    const g = await create(a, false);
    await refused(client.addGroupUsers(a, g.id!, [b.user_id!, crypto.randomUUID()]), 400, 'One or more users not found.');
    assert.equal((await states(g.id!)).has(b.user_id!), false);
  });
});

describe('update and delete', () => {
  test('admins update fields; empty description clears it; a taken name is refused (400, as Nakama)', async () => {
    const a = await user();
    const g = await client.createGroup(a, { name: uniqueName(), description: 'd', open: false });
    const other = await client.createGroup(a, { name: uniqueName(), open: false });
    await client.updateGroup(a, g.id!, { name: `${g.name}-renamed`, lang_tag: 'de', open: true, avatar_url: 'https://x/b.png' });
    let now = (await group(g.id!))!;
    assert.equal(now.name, `${g.name}-renamed`);
    assert.equal(now.langTag, 'de');
    assert.equal(now.open, true);
    assert.equal(now.avatarUrl, 'https://x/b.png');
    assert.equal(now.description, 'd');
    const r = await http(s.url, 'PUT', `/v2/group/${g.id}`, { auth: bearer(a), body: { description: '' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    now = (await group(g.id!))!;
    assert.equal(now.description, '');
    await refused(client.updateGroup(a, g.id!, { name: other.name! }), 400, 'Group name is in use.');
    await refused(client.updateGroup(a, g.id!, {}), 400, 'Specify at least one field to update.');
    await refused(client.updateGroup(a, g.id!, { lang_tag: '' }), 400, 'Group language cannot be empty.');
    // Clients cannot change metadata or the maximum; the server can.
    const meta = await http(s.url, 'PUT', `/v2/group/${g.id}`, {
      auth: bearer(a),
      body: { metadata: '{"x":1}', max_count: 3, open: false },
    });
    assert.equal(meta.status, 200);
    now = (await group(g.id!))!;
    assert.deepEqual(now.metadata, {});
    assert.equal(now.maxCount, 100);
    await nk().groupUpdate(g.id!, null, null, null, null, null, null, null, { tier: 'gold' }, 50);
    now = (await group(g.id!))!;
    assert.deepEqual(now.metadata, { tier: 'gold' });
    assert.equal(now.maxCount, 50);
    assert.equal(now.open, false);
  });

  test('a superadmin deletes the group and every membership with it', async () => {
    const [a, b] = await users(2);
    const g = await create(a, true);
    await client.joinGroup(b, g.id!);
    await client.deleteGroup(a, g.id!);
    assert.equal(await group(g.id!), undefined);
    assert.deepEqual((await client.listUserGroups(b, b.user_id!)).user_groups, []);
    await refused(client.joinGroup(b, g.id!), 404);
    // Deleting again: the group is gone, so the caller is no superadmin of it.
    await refused(client.deleteGroup(a, g.id!), 400);
  });
});
