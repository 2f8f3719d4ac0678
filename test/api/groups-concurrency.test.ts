/**
 * Groups under concurrent requests (no group over its limit, never without a superadmin, member
 * counts equal to members) and account deletion (memberships removed, counts fixed, the group
 * passed to its oldest admin or member, or deleted when empty).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, type Session } from '@heroiclabs/nakama-js';
import type { groupsNk } from '../../src/hooks/nk-groups.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let client: Client;
before(async () => {
  s = await startTestServer({ tokenExpirySec: 7200, refreshTokenExpirySec: 86400 });
  client = new Client('defaultkey', '127.0.0.1', String(s.port), false);
});
after(async () => {
  await s?.stop();
});

let n = 0;
const user = (): Promise<Session> => client.authenticateDevice(`gconc-${process.pid}-${Date.now()}-${++n}`, true);
/** `k` new users, typed as a tuple so they destructure without undefined. */
type Users<K extends number, T extends Session[] = []> = T['length'] extends K ? T : Users<K, [...T, Session]>;
const users = <K extends number>(k: K) => Promise.all(Array.from({ length: k }, () => user())) as Promise<Users<K>>;
const uniqueName = () => `conc-${process.pid}-${Date.now()}-${++n}`;
/** The group functions of `nk` (typed by their own factory until createNk merges them). */
const nk = () => s.runtime.nk as unknown as ReturnType<typeof groupsNk>;

/** The HTTP status of each settled nakama-js call (200 when it succeeded). */
async function statuses(calls: Promise<unknown>[]): Promise<number[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((r) => {
    if (r.status === 'fulfilled') return 200;
    if (r.reason instanceof Response) return r.reason.status;
    throw r.reason;
  });
}

async function states(groupId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const state of [null, 4])
    for (const gu of (await nk().groupUsersList(groupId, 1000, state)).groupUsers) out.set(gu.user.userId, gu.state);
  return out;
}

/** The stored member count equals the superadmins, admins and members listed. */
async function assertCount(groupId: string, expected?: number) {
  const [g] = await nk().groupsGetId([groupId]);
  const members = [...(await states(groupId)).values()].filter((x) => x <= 2).length;
  assert.equal(g!.edgeCount, members, 'edge_count matches the members');
  if (expected !== undefined) assert.equal(members, expected);
}

describe('concurrency', () => {
  test('20 users join a group of max 5 at once: exactly 4 get in', async () => {
    const owner = await user();
    const g = await client.createGroup(owner, { name: uniqueName(), open: true, max_count: 5 });
    const joiners = await users(20);
    const codes = await statuses(joiners.map((u) => client.joinGroup(u, g.id!)));
    assert.equal(codes.filter((c) => c === 200).length, 4, `statuses ${codes}`);
    assert.equal(codes.filter((c) => c === 400).length, 16, `statuses ${codes}`);
    await assertCount(g.id!, 5);
    const [stored] = await nk().groupsGetId([g.id!]);
    assert.equal(stored!.maxCount, 5);
  });

  test('admins adding users at once never pass the limit', async () => {
    const owner = await user();
    const g = await client.createGroup(owner, { name: uniqueName(), open: false, max_count: 6 });
    const batches = await Promise.all(Array.from({ length: 5 }, () => users(2)));
    const codes = await statuses(
      batches.map((b) =>
        client.addGroupUsers(
          owner,
          g.id!,
          b.map((u) => u.user_id!),
        ),
      ),
    );
    // Each batch is all or nothing: 5 free places take two batches of two.
    assert.equal(codes.filter((c) => c === 200).length, 2, `statuses ${codes}`);
    await assertCount(g.id!, 5);
  });

  test('joins and leaves racing keep the count equal to the members', async () => {
    const owner = await user();
    const g = await client.createGroup(owner, { name: uniqueName(), open: true, max_count: 50 });
    const stay = await users(10);
    const go = await users(10);
    await Promise.all(go.map((u) => client.joinGroup(u, g.id!)));
    await Promise.all([...stay.map((u) => client.joinGroup(u, g.id!)), ...go.map((u) => client.leaveGroup(u, g.id!))]);
    await assertCount(g.id!, 11);
  });

  test('two superadmins leaving at once: exactly one succeeds, the group keeps a superadmin', async () => {
    for (let round = 0; round < 3; round++) {
      const [a, b, m] = await users(3);
      const g = await client.createGroup(a, { name: uniqueName(), open: true });
      await client.joinGroup(b, g.id!);
      await client.joinGroup(m, g.id!);
      await client.promoteGroupUsers(a, g.id!, [b.user_id!]);
      await client.promoteGroupUsers(a, g.id!, [b.user_id!]);
      assert.equal((await states(g.id!)).get(b.user_id!), 0);
      const codes = await statuses([client.leaveGroup(a, g.id!), client.leaveGroup(b, g.id!)]);
      assert.deepEqual([...codes].sort(), [200, 400]);
      const st = await states(g.id!);
      assert.equal([...st.values()].filter((x) => x === 0).length, 1);
      await assertCount(g.id!, 2);
    }
  });

  test('two superadmins kicking each other at once: one stays', async () => {
    const [a, b] = await users(2);
    const g = await client.createGroup(a, { name: uniqueName(), open: true });
    await client.joinGroup(b, g.id!);
    await nk().groupUsersPromote(g.id!, [b.user_id!]);
    await nk().groupUsersPromote(g.id!, [b.user_id!]);
    await statuses([client.kickGroupUsers(a, g.id!, [b.user_id!]), client.kickGroupUsers(b, g.id!, [a.user_id!])]);
    const st = await states(g.id!);
    assert.deepEqual([...st.values()], [0]);
    await assertCount(g.id!, 1);
  });
});

describe('account deletion', () => {
  test('a member leaves every group; counts drop; join requests and bans go too', async () => {
    const [owner, x] = await users(2);
    const open = await client.createGroup(owner, { name: uniqueName(), open: true });
    const closed = await client.createGroup(owner, { name: uniqueName(), open: false });
    const banned = await client.createGroup(owner, { name: uniqueName(), open: true });
    await client.joinGroup(x, open.id!);
    await client.joinGroup(x, closed.id!);
    await client.joinGroup(x, banned.id!);
    await client.banGroupUsers(owner, banned.id!, [x.user_id!]);
    await client.deleteAccount(x);
    for (const g of [open, closed, banned]) {
      assert.equal((await states(g.id!)).has(x.user_id!), false);
      await assertCount(g.id!, 1);
    }
  });

  test('a last superadmin passes the group to the oldest admin, else the oldest member', async () => {
    const [sa, m1, admin1, admin2, m2] = await users(5);
    const g = await client.createGroup(sa, { name: uniqueName(), open: true });
    // Join order: m1, admin1, admin2, m2; admin1 is the oldest admin, m1 the oldest member.
    for (const u of [m1, admin1, admin2, m2]) await client.joinGroup(u, g.id!);
    await client.promoteGroupUsers(sa, g.id!, [admin2.user_id!]);
    await client.promoteGroupUsers(sa, g.id!, [admin1.user_id!]);
    await client.deleteAccount(sa);
    let st = await states(g.id!);
    assert.equal(st.has(sa.user_id!), false);
    assert.equal(st.get(admin1.user_id!), 0);
    assert.equal(st.get(admin2.user_id!), 1);
    await assertCount(g.id!, 4);

    // Without admins, the oldest member.
    await nk().groupUsersDemote(g.id!, [admin2.user_id!]);
    await client.deleteAccount(admin1);
    st = await states(g.id!);
    assert.equal(st.get(m1.user_id!), 0);
    assert.equal(st.get(admin2.user_id!), 2);
    assert.equal(st.get(m2.user_id!), 2);
    await assertCount(g.id!, 3);
  });

  test('another superadmin remaining means no promotion', async () => {
    const [a, b, m] = await users(3);
    const g = await client.createGroup(a, { name: uniqueName(), open: true });
    await client.joinGroup(m, g.id!);
    await client.joinGroup(b, g.id!);
    await nk().groupUsersPromote(g.id!, [b.user_id!]);
    await nk().groupUsersPromote(g.id!, [b.user_id!]);
    await client.deleteAccount(a);
    const st = await states(g.id!);
    assert.deepEqual([st.get(b.user_id!), st.get(m.user_id!)], [0, 2]);
    await assertCount(g.id!, 2);
  });

  test('a group left without members is deleted, even with pending requests', async () => {
    const [a, requester] = await users(2);
    const g = await client.createGroup(a, { name: uniqueName(), open: false });
    await client.joinGroup(requester, g.id!);
    await client.deleteAccount(a);
    assert.deepEqual(await nk().groupsGetId([g.id!]), []);
    assert.deepEqual((await client.listUserGroups(requester, requester.user_id!)).user_groups, []);
  });

  test('deleting an account while others join its groups keeps every count exact', async () => {
    const [sa, admin] = await users(2);
    const groups = await Promise.all(Array.from({ length: 3 }, () => client.createGroup(sa, { name: uniqueName(), open: true })));
    for (const g of groups) {
      await client.joinGroup(admin, g.id!);
      await client.promoteGroupUsers(sa, g.id!, [admin.user_id!]);
    }
    const joiners = await users(6);
    await Promise.all([client.deleteAccount(sa), ...joiners.flatMap((u) => groups.map((g) => client.joinGroup(u, g.id!)))]);
    for (const g of groups) {
      const st = await states(g.id!);
      assert.equal(st.get(admin.user_id!), 0);
      assert.equal(st.has(sa.user_id!), false);
      await assertCount(g.id!, 7);
    }
  });
});
