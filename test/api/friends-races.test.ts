/**
 * Friends against a real server under pressure: the friend limit with concurrent invites, racing
 * adds, blocks and deletes, and account deletion. After every step the edge counts on every
 * account must equal the edges in the table.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Client } from '@heroiclabs/nakama-js';
import { query, sql } from '../../src/services/db.js';
import { bearer, friendsHelpers, ids, MAX_FRIENDS, qs, startFriendsServer } from '../support/friends.js';
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
const { em, users, consistent, edgeCount, states } = friendsHelpers(() => ({ s, client }));
afterEach(() => consistent());

describe('friend limit', () => {
  test(`concurrent invites to one user stop at ${MAX_FRIENDS}; the extra inviters are skipped`, async () => {
    const [x, ...others] = await users(MAX_FRIENDS + 8);
    const results = await Promise.allSettled(others.map((o) => client.addFriends(o, ids(x))));
    assert.ok(results.every((r) => r.status === 'fulfilled'));
    assert.equal(await edgeCount(x), MAX_FRIENDS);
    assert.equal((await client.listFriends(x, 2)).friends?.length, MAX_FRIENDS);
    // At the limit, accepting still works (it adds no edge), and blocking is never refused.
    const received = (await client.listFriends(x, 2)).friends!;
    await client.addFriends(x, [received[0]!.user!.id!]);
    assert.equal(await edgeCount(x), MAX_FRIENDS);
    const [stranger] = await users(1);
    await client.blockFriends(x, ids(stranger));
    assert.equal(await edgeCount(x), MAX_FRIENDS + 1);
  });

  test(`one user inviting many at once stops at ${MAX_FRIENDS} with FAILED_PRECONDITION`, async () => {
    const [y, ...others] = await users(MAX_FRIENDS + 8);
    const results = await Promise.all(others.map((o) => http(s.url, 'POST', `/v2/friend?${qs({ ids: o.user_id! })}`, { auth: bearer(y) })));
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(results.length - refused.length, MAX_FRIENDS);
    for (const r of refused) assertError(r, 400, 9, 'Friend limit reached.');
    assert.equal(await edgeCount(y), MAX_FRIENDS);
    // A batch that would pass the limit changes nothing.
    const [z, ...more] = await users(MAX_FRIENDS + 2);
    assertError(await http(s.url, 'POST', `/v2/friend?${qs({ ids: ids(...more) })}`, { auth: bearer(z) }), 400, 9, 'Friend limit reached.');
    assert.equal(await edgeCount(z), 0);
  });
});

describe('races', () => {
  test('mutual adds accept; block racing add and delete always ends blocked; counts stay exact', async () => {
    const pairs = await Promise.all(Array.from({ length: 8 }, () => users(2)));
    await Promise.all(pairs.map(([a, b]) => Promise.all([client.addFriends(a, ids(b)), client.addFriends(b, ids(a))])));
    for (const [a, b] of pairs) assert.deepEqual(await states(a, b), [0, 0]);
    // Whatever order these run in, a's block is the last word.
    await Promise.all(
      pairs.map(([a, b]) => Promise.all([client.blockFriends(a, ids(b)), client.addFriends(b, ids(a)), client.deleteFriends(b, ids(a))])),
    );
    for (const [a, b] of pairs) assert.deepEqual(await states(a, b), [3, undefined]);
    // Crossed batches lock in the same order, so they cannot deadlock.
    const [p, q, r] = await users(3);
    await Promise.all([client.addFriends(p, ids(q, r)), client.addFriends(q, ids(r, p)), client.addFriends(r, ids(p, q))]);
    assert.deepEqual(await states(p, q), [0, 0]);
    assert.deepEqual(await states(q, r), [0, 0]);
    assert.deepEqual(await states(r, p), [0, 0]);
  });

  test('adds racing an account deletion leave no edge to the deleted user and exact counts', async () => {
    const [x, ...others] = await users(9);
    await client.addFriends(x, ids(...others.slice(0, 4)));
    const results = await Promise.all([
      http(s.url, 'DELETE', '/v2/account', { auth: bearer(x) }),
      ...others.map((o) => http(s.url, 'POST', `/v2/friend?${qs({ ids: x.user_id! })}`, { auth: bearer(o) })),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 200),
    );
    await consistent();
    const left = await query<{ n: number }>(
      em(),
      sql`select count(*)::int as n from user_edge where source_id = ${x.user_id} or destination_id = ${x.user_id}`,
    );
    assert.equal(left[0]!.n, 0);
  });
});

describe('account deletion', () => {
  test("removes the user's edges both ways and fixes everyone else's counts", async () => {
    const [a, friend, invited, blocked, inviter, blocker] = await users(6);
    await client.addFriends(a, ids(friend, invited));
    await client.addFriends(friend, ids(a));
    await client.blockFriends(a, ids(blocked));
    await client.addFriends(inviter, ids(a));
    await client.blockFriends(blocker, ids(a));
    for (const u of [friend, invited, inviter, blocker]) assert.equal(await edgeCount(u), 1);
    assert.equal((await http(s.url, 'DELETE', '/v2/account', { auth: bearer(a) })).status, 200);
    await consistent();
    for (const u of [friend, invited, blocked, inviter, blocker]) {
      assert.equal(await edgeCount(u), 0);
      assert.deepEqual((await client.listFriends(u)).friends, []);
    }
    const left = await query<{ n: number }>(
      em(),
      sql`select count(*)::int as n from user_edge where source_id = ${a.user_id} or destination_id = ${a.user_id}`,
    );
    assert.equal(left[0]!.n, 0);
  });
});
