/**
 * Group listings (ListGroups with Nakama's filters, ListGroupUsers, ListUserGroups) and their
 * cursors, and the `nk` group functions designer code calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, type Session } from '@heroiclabs/nakama-js';
import type { groupsNk } from '../../src/hooks/nk-groups.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

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
const user = (): Promise<Session> => client.authenticateDevice(`glist-${process.pid}-${Date.now()}-${++n}`, true);
/** `k` new users, typed as a tuple so they destructure without undefined. */
type Users<K extends number, T extends Session[] = []> = T['length'] extends K ? T : Users<K, [...T, Session]>;
const users = <K extends number>(k: K) => Promise.all(Array.from({ length: k }, () => user())) as Promise<Users<K>>;
const bearer = (u: Session) => `Bearer ${u.token}`;
/** The group functions of `nk` (typed by their own factory until createNk merges them). */
const nk = () => s.runtime.nk as unknown as ReturnType<typeof groupsNk>;
/** A name prefix no other test in this file uses. */
const prefix = () => `L${process.pid}x${Date.now()}x${++n}`;

const list = (u: Session, query: string) => http(s.url, 'GET', `/v2/group?${query}`, { auth: bearer(u) });

describe('ListGroups', () => {
  test('by name: exact and case-insensitive, a trailing % for a prefix, leading % ignored; paged by name', async () => {
    const a = await user();
    const p = prefix();
    for (const suffix of ['c', 'a', 'b', 'd', 'e']) await client.createGroup(a, { name: `${p}-${suffix}`, open: true });
    const exact = await client.listGroups(a, `${p.toLowerCase()}-B`, undefined, 10);
    assert.deepEqual(
      exact.groups!.map((g) => g.name),
      [`${p}-b`],
    );
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listGroups(a, `${p}%`, cursor, 2);
      names.push(...page.groups!.map((g) => g.name!));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    assert.deepEqual(
      names,
      ['a', 'b', 'c', 'd', 'e'].map((x) => `${p}-${x}`),
    );
    assert.equal(pages, 3);
    const leading = await client.listGroups(a, `%%${p}-e`, undefined, 10);
    assert.deepEqual(
      leading.groups!.map((g) => g.name),
      [`${p}-e`],
    );
    // Nakama's REST default: one group a page.
    const one = await client.listGroups(a, `${p}%`);
    assert.equal(one.groups!.length, 1);
    assert.ok(one.cursor);
  });

  test('filters: lang tag, open, at most N members (largest first); a name combines with none', async () => {
    const [a, b, c] = await users(3);
    const lang = `x${Date.now() % 1e9}`.slice(0, 10);
    const big = await client.createGroup(a, { name: `${prefix()}-big`, open: true, lang_tag: lang });
    const mid = await client.createGroup(a, { name: `${prefix()}-mid`, open: true, lang_tag: lang });
    const shut = await client.createGroup(a, { name: `${prefix()}-shut`, open: false, lang_tag: lang });
    await client.joinGroup(b, big.id!);
    await client.joinGroup(c, big.id!);
    await client.joinGroup(b, mid.id!);

    const byLang = await list(a, `lang_tag=${lang}&limit=100`);
    assert.equal(byLang.status, 200, JSON.stringify(byLang.body));
    assert.deepEqual(
      byLang.body.groups.map((g: { id: string }) => g.id),
      [big.id, mid.id, shut.id],
    );
    const open = await list(a, `lang_tag=${lang}&open=true&limit=100`);
    assert.deepEqual(
      open.body.groups.map((g: { id: string }) => g.id),
      [big.id, mid.id],
    );
    const closed = await list(a, `lang_tag=${lang}&open=false&limit=100`);
    assert.deepEqual(
      closed.body.groups.map((g: { id: string; open: boolean }) => [g.id, g.open]),
      [[shut.id, false]],
    );
    const small = await list(a, `lang_tag=${lang}&members=2&limit=100`);
    assert.deepEqual(
      small.body.groups.map((g: { id: string; edge_count: number }) => [g.id, g.edge_count]),
      [
        [mid.id, 2],
        [shut.id, 1],
      ],
    );
    // Paging the members ordering one at a time gives the same list.
    const paged: string[] = [];
    let cursor = '';
    do {
      const page = await list(a, `lang_tag=${lang}&members=3&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      paged.push(...page.body.groups.map((g: { id: string }) => g.id));
      cursor = page.body.cursor ?? '';
    } while (cursor);
    assert.deepEqual(paged, [big.id, mid.id, shut.id]);

    const mixed = await list(a, `name=${encodeURIComponent(big.name!)}&lang_tag=${lang}`);
    assert.equal(mixed.status, 400);
    assert.equal(mixed.body.message, 'name filter cannot be combined with any other filter');
  });

  test('unfiltered listing pages through every group oldest first; bad limits and cursors are refused', async () => {
    const a = await user();
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await client.createGroup(a, { name: `${prefix()}-all`, open: true })).id!);
    const seen: string[] = [];
    let cursor = '';
    do {
      const page = await list(a, `limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.groups.map((g: { id: string }) => g.id));
      cursor = page.body.cursor ?? '';
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length);
    const at = created.map((id) => seen.indexOf(id));
    assert.ok(
      at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)),
      `positions ${at}`,
    );

    for (const q of ['limit=0', 'limit=101', 'cursor=garbage', `cursor=${Buffer.from('{"k":"n","n":"x"}').toString('base64url')}`]) {
      const r = await list(a, q);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
    }
  });
});

describe('ListGroupUsers and ListUserGroups', () => {
  test('group users by state then age, with a state filter and a cursor', async () => {
    const [a, b, c, d, e] = await users(5);
    const g = await client.createGroup(a, { name: `${prefix()}-users`, open: false });
    await nk().groupUsersAdd(g.id!, [b.user_id!, c.user_id!]);
    await client.promoteGroupUsers(a, g.id!, [c.user_id!]);
    await client.joinGroup(d, g.id!);
    await client.joinGroup(e, g.id!);
    const all = await client.listGroupUsers(a, g.id!);
    assert.deepEqual(
      all.group_users!.map((gu) => [gu.user!.id, gu.state]),
      [
        [a.user_id, 0],
        [c.user_id, 1],
        [b.user_id, 2],
        [d.user_id, 3],
        [e.user_id, 3],
      ],
    );
    assert.equal(all.cursor, undefined);
    // The wire keeps a superadmin's state 0 (a wrapper in Nakama's proto).
    const raw = await http(s.url, 'GET', `/v2/group/${g.id}/user`, { auth: bearer(a) });
    assert.equal(raw.body.group_users[0].state, 0);
    assert.equal(raw.body.group_users[0].user.id, a.user_id);

    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listGroupUsers(a, g.id!, undefined, 2, cursor);
      paged.push(...page.group_users!.map((gu) => gu.user!.id!));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(
      paged,
      all.group_users!.map((gu) => gu.user!.id),
    );
    const requests = await client.listGroupUsers(a, g.id!, 3, 1);
    assert.deepEqual(
      requests.group_users!.map((gu) => gu.user!.id),
      [d.user_id],
    );
    const more = await client.listGroupUsers(a, g.id!, 3, 1, requests.cursor);
    assert.deepEqual(
      more.group_users!.map((gu) => gu.user!.id),
      [e.user_id],
    );
    // A cursor from another state filter is refused.
    const mismatch = await http(s.url, 'GET', `/v2/group/${g.id}/user?state=2&cursor=${requests.cursor}`, { auth: bearer(a) });
    assert.equal(mismatch.status, 400);
    const badState = await http(s.url, 'GET', `/v2/group/${g.id}/user?state=5`, { auth: bearer(a) });
    assert.equal(badState.status, 400);
    assert.match(badState.body.message, /state must be between 0 and 4/);
  });

  test("a user's groups with their state in each, paged", async () => {
    const [a, b] = await users(2);
    const own = await client.createGroup(b, { name: `${prefix()}-own`, open: true });
    const joined = await client.createGroup(a, { name: `${prefix()}-joined`, open: true });
    const asked = await client.createGroup(a, { name: `${prefix()}-asked`, open: false });
    await client.joinGroup(b, joined.id!);
    await client.joinGroup(b, asked.id!);
    // Anyone may list anyone's groups, as in Nakama.
    const all = await client.listUserGroups(a, b.user_id!);
    assert.deepEqual(
      all.user_groups!.map((ug) => [ug.group!.id, ug.state]),
      [
        [own.id, 0],
        [joined.id, 2],
        [asked.id, 3],
      ],
    );
    // nakama-js 2.8.0's listUserGroups sends its `state` argument as the limit and its `limit` as the
    // state (api.gen.ts takes them the other way round), so paging and filtering go through fetch.
    const path = `/v2/user/${b.user_id}/group`;
    const first = await http(s.url, 'GET', `${path}?limit=2`, { auth: bearer(b) });
    assert.equal(first.body.user_groups.length, 2);
    const rest = await http(s.url, 'GET', `${path}?limit=2&cursor=${first.body.cursor}`, { auth: bearer(b) });
    assert.deepEqual(
      rest.body.user_groups.map((ug: { group: { id: string } }) => ug.group.id),
      [asked.id],
    );
    assert.equal(rest.body.cursor, undefined);
    const members = await http(s.url, 'GET', `${path}?state=2`, { auth: bearer(b) });
    assert.deepEqual(
      members.body.user_groups.map((ug: { group: { id: string }; state: number }) => [ug.group.id, ug.state]),
      [[joined.id, 2]],
    );
  });
});

describe('nk', () => {
  test('groupCreate sets metadata and the system user as creator; groupsGetId; groupUpdate; groupDelete', async () => {
    const a = await user();
    const g = await nk().groupCreate(a.user_id!, `${prefix()}-nk`, null, 'es', 'desc', null, true, { level: 3 }, 10);
    assert.equal(g.creatorId, '00000000-0000-0000-0000-000000000000');
    assert.deepEqual(g.metadata, { level: 3 });
    assert.equal(g.langTag, 'es');
    assert.equal(g.description, 'desc');
    assert.equal(g.avatarUrl, '');
    assert.equal(g.open, true);
    assert.equal(g.maxCount, 10);
    assert.equal(g.edgeCount, 1);
    assert.equal(typeof g.createTime, 'number');
    const wire = await client.listUserGroups(a, a.user_id!);
    assert.deepEqual(wire.user_groups![0]!.group!.metadata, { level: 3 });
    assert.deepEqual(await nk().groupsGetId([g.id, '00000000-0000-4000-8000-000000000000']), [g]);
    await assert.rejects(nk().groupCreate(a.user_id!, g.name), /Group name is in use/);
    await assert.rejects(nk().groupCreate('00000000-0000-4000-8000-000000000000', `${prefix()}-ghost`), /User not found/);

    await nk().groupUpdate(g.id, a.user_id!, 'renamed-' + g.name);
    assert.equal((await nk().groupsGetId([g.id]))[0]!.name, 'renamed-' + g.name);
    await nk().groupDelete(g.id);
    assert.deepEqual(await nk().groupsGetId([g.id]), []);
    // Deleting a group that is gone is a no-op for the server.
    await nk().groupDelete(g.id);
  });

  test('membership calls with and without a caller, and the list shapes', async () => {
    const [a, b, c] = await users(3);
    const g = await nk().groupCreate(a.user_id!, `${prefix()}-members`, a.user_id!, null, null, null, false);
    assert.equal(g.creatorId, a.user_id);
    await nk().groupUserJoin(g.id, b.user_id!, 'ignored');
    await nk().groupUsersAdd(g.id, [b.user_id!, c.user_id!], a.user_id!);
    // With a caller, that caller's role applies.
    await assert.rejects(nk().groupUsersKick(g.id, [c.user_id!], b.user_id!), /permission denied/);
    await nk().groupUsersPromote(g.id, [b.user_id!]);
    await nk().groupUsersBan(g.id, [c.user_id!], b.user_id!);
    const users_ = await nk().groupUsersList(g.id);
    assert.deepEqual(
      users_.groupUsers.map((gu) => [gu.user.userId, gu.state]),
      [
        [a.user_id, 0],
        [b.user_id, 1],
      ],
    );
    assert.equal(users_.cursor, null);
    assert.equal(typeof users_.groupUsers[0]!.user.username, 'string');
    assert.equal((await nk().groupUsersList(g.id, 10, 4)).groupUsers[0]!.user.userId, c.user_id);
    const mine = await nk().userGroupsList(b.user_id!);
    assert.deepEqual(
      mine.userGroups.map((ug) => [ug.group.id, ug.state]),
      [[g.id, 1]],
    );
    await nk().groupUsersDemote(g.id, [b.user_id!], a.user_id!);
    await nk().groupUserLeave(g.id, b.user_id!, 'ignored');
    assert.deepEqual((await nk().userGroupsList(b.user_id!)).userGroups, []);
    const found = await nk().groupsList(g.name);
    assert.deepEqual(
      found.groups.map((x) => x.id),
      [g.id],
    );
    assert.equal(found.cursor, null);
    await assert.rejects(nk().groupsList(null, null, null, null, 0), /limit/);
    await assert.rejects(nk().groupUsersAdd(g.id, ['nope']), /Invalid user ID/);
  });
});
