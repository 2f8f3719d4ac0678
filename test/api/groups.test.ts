/**
 * Groups against a real server with nakama-js (and plain fetch where nakama-js has no call): the
 * lifecycle of open and closed groups, Nakama's role rules including every refusal, bans, the
 * join-request and group-add notifications, and updates and deletion.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, type Session } from '@heroiclabs/nakama-js';
import type { groupsNk } from '../../src/hooks/nk-groups.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let client: Client;
before(async () => {
  // Sessions longer than nakama-js's refresh margin, so the client uses them as they are.
  s = await startTestServer({ tokenExpirySec: 7200, refreshTokenExpirySec: 86400 });
  client = new Client('defaultkey', '127.0.0.1', String(s.port), false);
});
after(async () => {
  await s?.stop();
});

let n = 0;
const user = (): Promise<Session> => client.authenticateDevice(`groups-${process.pid}-${Date.now()}-${++n}`, true);
/** `k` new users, typed as a tuple so they destructure without undefined. */
type Users<K extends number, T extends Session[] = []> = T['length'] extends K ? T : Users<K, [...T, Session]>;
const users = <K extends number>(k: K) => Promise.all(Array.from({ length: k }, () => user())) as Promise<Users<K>>;
const bearer = (u: Session) => `Bearer ${u.token}`;
/** The group functions of `nk` (typed by their own factory until createNk merges them). */
const nk = () => s.runtime.nk as unknown as ReturnType<typeof groupsNk>;
const uniqueName = (prefix = 'group') => `${prefix}-${process.pid}-${Date.now()}-${++n}`;

/** Expects a nakama-js call to fail with an HTTP status (and message); returns the error body. */
async function refused(p: Promise<unknown>, status: number, message?: string | RegExp): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof Response)) throw err;
    const body = (await err.json()) as { code: number; message: string };
    assert.equal(err.status, status, JSON.stringify(body));
    if (typeof message === 'string') assert.equal(body.message, message);
    else if (message) assert.match(body.message, message);
    return body;
  }
  assert.fail(`expected HTTP ${status}`);
}

/** Every user's state in a group (banned users included), as the server sees it. */
async function states(groupId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const state of [undefined, 4]) {
    const page = await nk().groupUsersList(groupId, 1000, state ?? null);
    for (const gu of page.groupUsers) out.set(gu.user.userId, gu.state);
  }
  return out;
}

async function group(groupId: string) {
  const [g] = await nk().groupsGetId([groupId]);
  return g;
}

async function create(owner: Session, open: boolean, extra: Record<string, unknown> = {}) {
  return client.createGroup(owner, { name: uniqueName(), open, ...extra });
}

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
