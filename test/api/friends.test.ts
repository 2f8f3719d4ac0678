/**
 * Friends against a real server: nakama-js for the calls it has, plain HTTP for metadata and
 * errors. After every step the edge counts on every account must equal the edges in the table.
 * The friend limit, races and account deletion are in friends-races.test.ts.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Client, Session } from '@heroiclabs/nakama-js';
import { relationship } from '../../src/services/friends.js';
import { NotificationCode } from '../../src/services/notifications.js';
import { bearer, friendsHelpers, ids, qs, startFriendsServer } from '../support/friends.js';
import { http, type TestServer } from '../support/server.js';
import { assertError } from '../support/wire.js';

let s: TestServer;
let client: Client;
before(async () => {
  ({ s, client } = await startFriendsServer());
});
after(async () => {
  await s?.stop();
});
const { em, users, consistent, edgeCount, states, notificationsOf, live } = friendsHelpers(() => ({ s, client }));
afterEach(() => consistent());

describe('invite, accept, delete', () => {
  test('an add invites (1 / 2, −2 to the invitee), adding back accepts (0 / 0, −3 to the inviter)', async () => {
    const [a, b] = await users(2);
    const toB = await live(b, () => client.addFriends(a, ids(b)));
    assert.deepEqual(await states(a, b), [1, 2]);
    assert.equal(await edgeCount(a), 1);
    assert.equal(await edgeCount(b), 1);
    assert.equal(toB.length, 1);
    assert.equal(toB[0]!.code, NotificationCode.FRIEND_REQUEST);
    assert.deepEqual(JSON.parse(toB[0]!.content), { username: a.username });
    const [request] = await notificationsOf(b);
    assert.equal(request?.code, -2);
    assert.equal(request?.sender_id, a.user_id);
    assert.equal(request?.subject, `${a.username} wants to add you as a friend`);
    assert.deepEqual(request?.content, { username: a.username });

    // Adding again, or a user who already invited you twice, changes nothing and sends nothing.
    assert.deepEqual(await live(b, () => client.addFriends(a, ids(b))), []);
    assert.deepEqual(await states(a, b), [1, 2]);

    const toA = await live(a, () => client.addFriends(b, ids(a)));
    assert.deepEqual(await states(a, b), [0, 0]);
    assert.equal(await edgeCount(a), 1);
    assert.deepEqual(
      toA.map((x) => x.code),
      [NotificationCode.FRIEND_ACCEPT],
    );
    const accepted = (await notificationsOf(a)).find((x) => x.code === -3);
    assert.equal(accepted?.sender_id, b.user_id);
    assert.deepEqual(accepted?.content, { username: b.username });

    // Friends adding each other again: no-op.
    await client.addFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [0, 0]);
    assert.equal((await notificationsOf(b)).length, 1);
  });

  test('by username, and a mix of ids and usernames with duplicates', async () => {
    const [a, b, c] = await users(3);
    await client.addFriends(a, ids(b), [b.username!, c.username!]);
    assert.deepEqual(await states(a, b), [1, 2]);
    assert.deepEqual(await states(a, c), [1, 2]);
    await client.addFriends(c, [], [a.username!]);
    assert.deepEqual(await states(a, c), [0, 0]);
    assert.equal(await edgeCount(a), 2);
  });

  test('delete ends a friendship, cancels or rejects an invite; the other user gets −9', async () => {
    const [a, b, c, d] = await users(4);
    await client.addFriends(a, ids(b, c, d));
    await client.addFriends(b, ids(a));
    const toB = await live(b, () => client.deleteFriends(a, ids(b)));
    assert.deepEqual(await states(a, b), [undefined, undefined]);
    assert.deepEqual(
      toB.map((x) => [x.code, JSON.parse(x.content).username]),
      [[-9, a.username]],
    );
    assert.equal((await notificationsOf(b)).find((x) => x.code === -9)?.subject, `${a.username} removed you as a friend`);
    // Cancelling an invite sent (by username), rejecting one received.
    await client.deleteFriends(a, [], [c.username!]);
    assert.deepEqual(await states(a, c), [undefined, undefined]);
    assert.ok((await notificationsOf(c)).some((x) => x.code === -9));
    const toA = await live(a, () => client.deleteFriends(d, ids(a)));
    assert.deepEqual(await states(a, d), [undefined, undefined]);
    assert.deepEqual(
      toA.map((x) => x.code),
      [-9],
    );
    assert.equal(await edgeCount(a), 0);
    // Deleting someone with no edge: nothing happens, nobody is told.
    assert.deepEqual(await live(b, () => client.deleteFriends(a, ids(b))), []);
  });
});

describe('block', () => {
  test('blocking a friend: 3 on my side, their edge gone; their adds are ignored; delete unblocks', async () => {
    const [a, b] = await users(2);
    await client.addFriends(a, ids(b));
    await client.addFriends(b, ids(a));
    await client.blockFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [3, undefined]);
    assert.equal(await edgeCount(a), 1);
    assert.equal(await edgeCount(b), 0);

    // The blocked user's invite is silently ignored; so is re-adding a user you blocked.
    assert.deepEqual(await live(a, () => client.addFriends(b, ids(a))), []);
    assert.deepEqual(await states(a, b), [3, undefined]);
    await client.addFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [3, undefined]);
    await client.blockFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [3, undefined]);

    // Deleting a blocked user unblocks, without telling them.
    assert.deepEqual(await live(b, () => client.deleteFriends(a, ids(b))), []);
    assert.deepEqual(await states(a, b), [undefined, undefined]);
    await client.addFriends(b, ids(a));
    assert.deepEqual(await states(a, b), [2, 1]);
  });

  test('blocking a stranger, mutual blocks, and blocking someone who invited you', async () => {
    const [a, b, c] = await users(3);
    await client.blockFriends(a, [], [b.username!]);
    assert.deepEqual(await states(a, b), [3, undefined]);
    await client.blockFriends(b, ids(a));
    assert.deepEqual(await states(a, b), [3, 3]);
    // One unblock leaves the other block in place.
    await client.deleteFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [undefined, 3]);
    await client.addFriends(a, ids(b));
    assert.deepEqual(await states(a, b), [undefined, 3]);

    await client.addFriends(c, ids(a));
    await client.blockFriends(a, ids(c));
    assert.deepEqual(await states(a, c), [3, undefined]);
  });

  test('relationship() sees blocks either way (chat uses it for direct messages)', async () => {
    const [a, b, c] = await users(3);
    await client.blockFriends(a, ids(b));
    await client.addFriends(a, ids(c));
    await client.addFriends(c, ids(a));
    assert.deepEqual(await relationship(em(), b.user_id!, a.user_id!), { reverse: 3, friends: false, blocked: true });
    assert.deepEqual(await relationship(em(), a.user_id!, c.user_id!), { state: 0, reverse: 0, friends: true, blocked: false });
    assert.deepEqual(await relationship(em(), b.user_id!, c.user_id!), { friends: false, blocked: false });
  });
});

describe('wire format, metadata and bad input', () => {
  test('ListFriends: user, state (0 included), update_time and the edge metadata; AddFriends ?metadata=', async () => {
    const [a, b] = await users(2);
    const add = await http(s.url, 'POST', `/v2/friend?${qs({ ids: b.user_id!, metadata: '{"note":"from a"}' })}`, { auth: bearer(a) });
    assert.equal(add.status, 200, JSON.stringify(add.body));
    assert.deepEqual(add.body, {});
    // Accepting merges the accepter's metadata into their own edge.
    await http(s.url, 'POST', `/v2/friend?${qs({ usernames: a.username!, metadata: '{"met":"at the tavern"}' })}`, { auth: bearer(b) });
    const listA = await http(s.url, 'GET', '/v2/friend', { auth: bearer(a) });
    assert.equal(listA.status, 200);
    assert.equal(listA.body.cursor, undefined);
    const [f] = listA.body.friends;
    assert.deepEqual(Object.keys(f).sort(), ['metadata', 'state', 'update_time', 'user']);
    assert.equal(f.state, 0);
    assert.deepEqual(JSON.parse(f.metadata), { note: 'from a' });
    assert.match(f.update_time, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal(f.user.id, b.user_id);
    assert.equal(f.user.username, b.username);
    assert.equal(f.user.edge_count, 1);
    const listB = await http(s.url, 'GET', '/v2/friend?state=0', { auth: bearer(b) });
    assert.deepEqual(JSON.parse(listB.body.friends[0].metadata), { met: 'at the tavern' });
    assert.deepEqual((await http(s.url, 'GET', '/v2/friend?state=3', { auth: bearer(b) })).body, {});
  });

  test('errors as Nakama words them; unknown users are skipped', async () => {
    const [a] = await users(1);
    const post = (q: string) => http(s.url, 'POST', `/v2/friend?${q}`, { auth: bearer(a) });
    assertError(await post(qs({ ids: a.user_id! })), 400, 3, 'Cannot add self as friend.');
    assertError(await post(qs({ usernames: a.username! })), 400, 3, 'Cannot add self as friend.');
    assertError(
      await http(s.url, 'POST', `/v2/friend/block?${qs({ ids: a.user_id! })}`, { auth: bearer(a) }),
      400,
      3,
      'Cannot block self.',
    );
    assertError(
      await http(s.url, 'DELETE', `/v2/friend?${qs({ usernames: a.username! })}`, { auth: bearer(a) }),
      400,
      3,
      'Cannot delete self.',
    );
    assertError(await post(qs({ ids: 'nope' })), 400, 3, "Invalid user ID 'nope'.");
    assertError(await post(qs({ usernames: '' })), 400, 3, 'Username must not be empty.');
    assertError(await post(qs({ usernames: 'nobody-has-this-name' })), 400, 3, 'No valid ID or username was provided.');
    assertError(await post(qs({ ids: crypto.randomUUID(), metadata: '[1]' })), 400, 3, 'Metadata must be a JSON object.');
    // An unknown id is skipped quietly, and an empty add is a no-op.
    assert.equal((await post(qs({ ids: crypto.randomUUID() }))).status, 200);
    assert.equal((await post('')).status, 200);
    assert.equal(await edgeCount(a), 0);

    const get = (q: string) => http(s.url, 'GET', `/v2/friend?${q}`, { auth: bearer(a) });
    assertError(await get('limit=0'), 400, 3, /limit must be between 1 and 1000/);
    assertError(await get('limit=1001'), 400, 3, /limit must be between 1 and 1000/);
    assertError(await get('state=4'), 400, 3, /state must be between 0 and 3/);
    assertError(await get('cursor=garbage'), 400, 3, 'Cursor is invalid.');
    assertError(await http(s.url, 'GET', '/v2/friend/friends?limit=101', { auth: bearer(a) }), 400, 3, /limit must be between 1 and 100/);
    assertError(await http(s.url, 'GET', '/v2/friend'), 401, 16);
  });
});

describe('lists', () => {
  test('cursor paging over every state, and within one state', async () => {
    const [x, ...o] = await users(12);
    await client.addFriends(x, ids(...o.slice(0, 7)));
    await client.addFriends(o[0]!, ids(x));
    await client.addFriends(o[1]!, ids(x));
    await client.addFriends(o[2]!, ids(x));
    await client.addFriends(o[3]!, ids(x));
    await client.addFriends(o[7]!, ids(x));
    await client.addFriends(o[8]!, ids(x));
    await client.blockFriends(x, ids(o[9]!, o[10]!));
    // 4 friends, 3 invites sent, 2 received, 2 blocked.
    const seen: { id: string; state: number }[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listFriends(x, undefined, 3, cursor);
      seen.push(...(page.friends ?? []).map((f) => ({ id: f.user!.id!, state: f.state! })));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 4);
    assert.equal(seen.length, 11);
    assert.equal(new Set(seen.map((f) => f.id)).size, 11);
    assert.deepEqual(
      seen.map((f) => f.state),
      [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3],
    );

    const first = await client.listFriends(x, 0, 2);
    assert.equal(first.friends?.length, 2);
    const second = await client.listFriends(x, 0, 2, first.cursor);
    assert.equal(second.friends?.length, 2);
    assert.equal(second.cursor, undefined);
    assert.deepEqual(new Set([...first.friends!, ...second.friends!].map((f) => f.user!.id)), new Set(ids(...o.slice(0, 4))));
    // A cursor from one state filter is refused with another.
    assertError(await http(s.url, 'GET', `/v2/friend?state=1&cursor=${first.cursor}`, { auth: bearer(x) }), 400, 3, 'Cursor is invalid.');
  });

  test('friends of friends: one entry per referrer, without me, my friends, or anyone blocking', async () => {
    const [me, b, c, d, e, f, g] = await users(7);
    const befriend = async (p: Session, q: Session) => {
      await client.addFriends(p, ids(q));
      await client.addFriends(q, ids(p));
    };
    await befriend(me, b);
    await befriend(me, c);
    await befriend(me, g);
    await befriend(b, d);
    await befriend(b, e);
    await befriend(b, g);
    await befriend(c, d);
    await befriend(c, f);
    await client.blockFriends(f, ids(me));
    const key = (x: { referrer?: string; user?: { id?: string } }) => `${x.referrer}>${x.user?.id}`;
    const expected = [`${b.user_id}>${d.user_id}`, `${b.user_id}>${e.user_id}`, `${c.user_id}>${d.user_id}`].sort();
    const all = await client.listFriendsOfFriends(me);
    assert.deepEqual(all.friends_of_friends!.map(key).sort(), expected);
    assert.equal(all.cursor, undefined);
    assert.equal(all.friends_of_friends!.find((x) => x.user?.id === d.user_id)?.user?.username, d.username);

    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listFriendsOfFriends(me, 1, cursor);
      paged.push(...page.friends_of_friends!.map(key));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(paged.sort(), expected);
    // Nobody's friends: an empty object.
    const [lonely] = await users(1);
    assert.deepEqual((await http(s.url, 'GET', '/v2/friend/friends', { auth: bearer(lonely) })).body, {});
  });
});

describe('nk', () => {
  test('friendsAdd / friendsList / friendMetadataUpdate / friendsBlock / friendsDelete / friendsOfFriendsList', async () => {
    const nk = s.runtime.nk;
    const [a, b, c] = await users(3);
    await nk.friendsAdd(a.user_id!, a.username!, [b.user_id!], [c.username!], { source: 'nk' });
    let list = await nk.friendsList(a.user_id!);
    assert.deepEqual(
      list.friends.map((f) => [f.user.userId, f.state, f.metadata]).sort(),
      [
        [b.user_id, 1, { source: 'nk' }],
        [c.user_id, 1, { source: 'nk' }],
      ].sort(),
    );
    assert.equal(typeof list.friends[0]!.updateTime, 'number');
    assert.equal(list.cursor, undefined);
    assert.deepEqual(
      (await notificationsOf(b)).map((x) => x.code),
      [-2],
    );

    await nk.friendsAdd(b.user_id!, b.username!, [a.user_id!]);
    await nk.friendMetadataUpdate(a.user_id!, b.user_id!, { level: 3 });
    list = await nk.friendsList(a.user_id!, 1, 0);
    assert.deepEqual(
      list.friends.map((f) => [f.user.userId, f.metadata]),
      [[b.user_id, { level: 3 }]],
    );
    const paged = await nk.friendsList(a.user_id!, 1, -1);
    assert.ok(paged.cursor);
    assert.equal((await nk.friendsList(a.user_id!, 1, -1, paged.cursor)).friends[0]?.state, 1);

    await nk.friendsAdd(c.user_id!, c.username!, [a.user_id!]);
    await nk.friendsAdd(b.user_id!, b.username!, [c.user_id!]);
    await nk.friendsAdd(c.user_id!, c.username!, [b.user_id!]);
    // b and c are both my friends: neither is a friend of a friend.
    assert.deepEqual((await nk.friendsOfFriendsList(a.user_id!)).friendsOfFriends, []);

    await nk.friendsBlock(a.user_id!, a.username!, [], [b.username!]);
    assert.equal((await nk.friendsList(a.user_id!, 100, 3)).friends[0]?.user.userId, b.user_id);
    await nk.friendsDelete(a.user_id!, a.username!, [b.user_id!, c.user_id!]);
    assert.deepEqual((await nk.friendsList(a.user_id!)).friends, []);

    await assert.rejects(nk.friendsAdd(a.user_id!, a.username!, [], [a.username!]), /Cannot add self as friend/);
    await assert.rejects(nk.friendsList('not-a-uuid'), /valid identifier/);
    await assert.rejects(nk.friendsList(a.user_id!, 1001), /limit/);
  });
});
