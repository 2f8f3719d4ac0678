/** The storage API against a real server: nakama-js for the calls it has, plain fetch for the errors. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, type Session } from '@heroiclabs/nakama-js';
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

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
let n = 0;
const user = (): Promise<Session> => client.authenticateDevice(`storage-${process.pid}-${Date.now()}-${++n}`, true);
const bearer = (u: Session) => `Bearer ${u.token}`;
const nk = () => s.runtime.nk;

/** A raw write through HTTP (value is sent as given). */
const put = (u: Session, objects: Record<string, unknown>[]) => http(s.url, 'PUT', '/v2/storage', { auth: bearer(u), body: { objects } });
const rejected = (r: { status: number; body: any }, message: string | RegExp) => {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 3);
  if (typeof message === 'string') assert.equal(r.body.message, message);
  else assert.match(r.body.message, message);
};
const VERSION_FAILED = 'Storage write rejected - version check failed.';
const PERMISSION_DENIED = 'Storage write rejected - permission denied.';
const DELETE_REJECTED = 'Storage delete rejected - not found, version check failed, or permission denied.';

/** What the server sees, whatever the permissions. */
async function stored(collection: string, key: string, userId: string) {
  const [o] = await nk().storageRead([{ collection, key, userId }]);
  return o;
}

describe('write and read', () => {
  test('the value round-trips; version is the md5 of the value text; permissions default to 1/1', async () => {
    const u = await user();
    const value = { progress: 50, name: 'héros', nested: { list: [1, 2, 3] } };
    const before = Date.now();
    const acks = await client.writeStorageObjects(u, [{ collection: 'saves', key: 'slot1', value }]);
    assert.equal(acks.acks?.length, 1);
    const ack = acks.acks![0]!;
    assert.equal(ack.collection, 'saves');
    assert.equal(ack.key, 'slot1');
    assert.equal(ack.user_id, u.user_id);
    assert.equal(ack.version, md5(JSON.stringify(value)));

    const read = await client.readStorageObjects(u, { object_ids: [{ collection: 'saves', key: 'slot1', user_id: u.user_id }] });
    assert.equal(read.objects.length, 1);
    const o = read.objects[0]!;
    assert.deepEqual(o.value, value);
    assert.equal(o.version, ack.version);
    assert.equal(o.user_id, u.user_id);
    assert.equal(o.permission_read, 1);
    assert.equal(o.permission_write, 1);
    const created = Date.parse(o.create_time!);
    assert.ok(created >= before - 2000 && created <= Date.now() + 2000, `create_time ${o.create_time}`);
    assert.equal(o.update_time, o.create_time);

    // An overwrite ("" version) changes the version and update time, not the create time.
    await new Promise((r) => setTimeout(r, 20));
    const ack2 = (await client.writeStorageObjects(u, [{ collection: 'saves', key: 'slot1', value: { progress: 51 } }])).acks![0]!;
    assert.equal(ack2.version, md5('{"progress":51}'));
    const o2 = (await client.readStorageObjects(u, { object_ids: [{ collection: 'saves', key: 'slot1', user_id: u.user_id }] }))
      .objects[0]!;
    assert.deepEqual(o2.value, { progress: 51 });
    assert.equal(o2.create_time, o.create_time);
    assert.ok(Date.parse(o2.update_time!) > Date.parse(o.update_time!));
  });

  test('the version hashes the text exactly as sent', async () => {
    const u = await user();
    const text = '{ "b": 1,   "a": [true, null] }';
    const r = await put(u, [{ collection: 'raw', key: 'k', value: text }]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.acks[0].version, md5(text));
    assert.equal((await stored('raw', 'k', u.user_id!))!.version, md5(text));
  });

  test('unknown objects are left out of a read', async () => {
    const u = await user();
    const read = await client.readStorageObjects(u, { object_ids: [{ collection: 'saves', key: 'nothing-here', user_id: u.user_id }] });
    assert.deepEqual(read.objects, []);
  });
});

describe('versions', () => {
  test('"*" creates only once', async () => {
    const u = await user();
    const first = await put(u, [{ collection: 'once', key: 'k', value: '{"n":1}', version: '*' }]);
    assert.equal(first.status, 200);
    const second = await put(u, [{ collection: 'once', key: 'k', value: '{"n":2}', version: '*' }]);
    rejected(second, VERSION_FAILED);
    assert.deepEqual((await stored('once', 'k', u.user_id!))!.value, { n: 1 });
  });

  test('a hash succeeds only while the object is unchanged', async () => {
    const u = await user();
    const v1 = (await put(u, [{ collection: 'occ', key: 'k', value: '{"n":1}' }])).body.acks[0].version as string;
    const ok = await put(u, [{ collection: 'occ', key: 'k', value: '{"n":2}', version: v1 }]);
    assert.equal(ok.status, 200);
    const v2 = ok.body.acks[0].version as string;
    assert.equal(v2, md5('{"n":2}'));
    rejected(await put(u, [{ collection: 'occ', key: 'k', value: '{"n":3}', version: v1 }]), VERSION_FAILED);
    const o = (await stored('occ', 'k', u.user_id!))!;
    assert.deepEqual(o.value, { n: 2 });
    assert.equal(o.version, v2);
    // A hash for an object that does not exist is a failed check too, and creates nothing.
    rejected(await put(u, [{ collection: 'occ', key: 'absent', value: '{"n":1}', version: v1 }]), VERSION_FAILED);
    assert.equal(await stored('occ', 'absent', u.user_id!), undefined);
  });

  test('a batch with one rejected object writes nothing', async () => {
    const u = await user();
    await put(u, [{ collection: 'batch', key: 'existing', value: '{"v":"old"}' }]);
    const r = await put(u, [
      { collection: 'batch', key: 'a-new', value: '{"v":1}' },
      { collection: 'batch', key: 'existing', value: '{"v":"new"}' },
      { collection: 'batch', key: 'existing', value: '{"v":"again"}', version: '*' },
      { collection: 'batch', key: 'z-new', value: '{"v":2}' },
    ]);
    rejected(r, VERSION_FAILED);
    assert.equal(await stored('batch', 'a-new', u.user_id!), undefined);
    assert.equal(await stored('batch', 'z-new', u.user_id!), undefined);
    assert.deepEqual((await stored('batch', 'existing', u.user_id!))!.value, { v: 'old' });
  });

  test('a value that is not a JSON object is refused', async () => {
    const u = await user();
    for (const value of ['[1,2]', '"text"', '42', 'null', 'not json', '{"open":']) {
      const r = await put(u, [{ collection: 'bad', key: 'k', value }]);
      assert.equal(r.status, 400, value);
      assert.equal(r.body.code, 3, value);
    }
    assert.equal(await stored('bad', 'k', u.user_id!), undefined);
    rejected(await put(u, [{ collection: '', key: 'k', value: '{}' }]), /collection|key/i);
    rejected(await put(u, [{ collection: 'bad', key: 'k', value: '{}', permission_read: 3 }]), /Read permission/);
    rejected(await put(u, [{ collection: 'bad', key: 'k', value: '{}', permission_write: 2 }]), /Write permission/);
  });
});

describe('permissions', () => {
  test('read: 1 owner only, 2 everyone, 0 nobody but the server', async () => {
    const owner = await user();
    const other = await user();
    await client.writeStorageObjects(owner, [
      { collection: 'perm', key: 'r0', value: { r: 0 }, permission_read: 0 },
      { collection: 'perm', key: 'r1', value: { r: 1 }, permission_read: 1 },
      { collection: 'perm', key: 'r2', value: { r: 2 }, permission_read: 2 },
    ]);
    const ids = ['r0', 'r1', 'r2'].map((key) => ({ collection: 'perm', key, user_id: owner.user_id }));
    const keys = async (u: Session) => (await client.readStorageObjects(u, { object_ids: ids })).objects.map((o) => o.key).sort();
    assert.deepEqual(await keys(owner), ['r1', 'r2']);
    assert.deepEqual(await keys(other), ['r2']);
    const server = await nk().storageRead(ids.map((i) => ({ collection: i.collection, key: i.key, userId: i.user_id! })));
    assert.deepEqual(server.map((o) => o.key).sort(), ['r0', 'r1', 'r2']);
    assert.deepEqual(server.find((o) => o.key === 'r0')!.permissionRead, 0);
  });

  test('write 0: the owner can neither overwrite nor delete; the server can', async () => {
    const owner = await user();
    const uid = owner.user_id!;
    const v = (await put(owner, [{ collection: 'locked', key: 'k', value: '{"n":1}', permission_write: 0 }])).body.acks[0]
      .version as string;
    rejected(await put(owner, [{ collection: 'locked', key: 'k', value: '{"n":2}' }]), PERMISSION_DENIED);
    rejected(await put(owner, [{ collection: 'locked', key: 'k', value: '{"n":2}', version: v }]), PERMISSION_DENIED);
    const del = await http(s.url, 'PUT', '/v2/storage/delete', {
      auth: bearer(owner),
      body: { object_ids: [{ collection: 'locked', key: 'k' }] },
    });
    rejected(del, DELETE_REJECTED);
    assert.deepEqual((await stored('locked', 'k', uid))!.value, { n: 1 });

    const [ack] = await nk().storageWrite([
      { collection: 'locked', key: 'k', userId: uid, value: { n: 3 }, version: v, permissionWrite: 0 },
    ]);
    assert.equal(ack!.version, md5('{"n":3}'));
    const o = (await stored('locked', 'k', uid))!;
    assert.deepEqual(o.value, { n: 3 });
    assert.equal(o.permissionWrite, 0);
    await nk().storageDelete([{ collection: 'locked', key: 'k', userId: uid }]);
    assert.equal(await stored('locked', 'k', uid), undefined);
  });
});

describe('list', () => {
  test("own objects, another user's public ones, every public one", async () => {
    const a = await user();
    const b = await user();
    const coll = `list-${Date.now()}`;
    await client.writeStorageObjects(a, [
      { collection: coll, key: 'a0', value: { x: 0 }, permission_read: 0 },
      { collection: coll, key: 'a1', value: { x: 1 }, permission_read: 1 },
      { collection: coll, key: 'a2', value: { x: 2 }, permission_read: 2 },
    ]);
    await client.writeStorageObjects(b, [
      { collection: coll, key: 'b1', value: { x: 1 }, permission_read: 1 },
      { collection: coll, key: 'b2', value: { x: 2 }, permission_read: 2 },
    ]);
    await client.writeStorageObjects(a, [{ collection: `${coll}-other`, key: 'elsewhere', value: {}, permission_read: 2 }]);
    const keys = async (u: Session, userId?: string) => (await client.listStorageObjects(u, coll, userId, 100)).objects.map((o) => o.key);
    assert.deepEqual(await keys(a, a.user_id), ['a1', 'a2']);
    assert.deepEqual(await keys(a, b.user_id), ['b2']);
    assert.deepEqual(await keys(b, a.user_id), ['a2']);
    assert.deepEqual(await keys(a), ['a2', 'b2']);
    const listed = (await client.listStorageObjects(a, coll, b.user_id, 100)).objects[0]!;
    assert.deepEqual(listed.value, { x: 2 });
    assert.equal(listed.user_id, b.user_id);
    assert.equal(listed.permission_read, 2);
    // The path form (/v2/storage/{collection}/{user_id}) answers the same.
    const path = await http(s.url, 'GET', `/v2/storage/${coll}/${a.user_id}?limit=10`, { auth: bearer(a) });
    assert.equal(path.status, 200);
    assert.deepEqual(
      path.body.objects.map((o: { key: string }) => o.key),
      ['a1', 'a2'],
    );
  });

  test('cursor paging returns every object exactly once, in key order', async () => {
    const u = await user();
    const coll = `page-${Date.now()}`;
    const all = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    await client.writeStorageObjects(
      u,
      [...all].reverse().map((key) => ({ collection: coll, key, value: { key } })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listStorageObjects(u, coll, u.user_id, 10, cursor);
      seen.push(...page.objects.map((o) => o.key!));
      cursor = page.cursor || undefined;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, all);
  });

  test('paging public objects of two users with the same keys', async () => {
    const a = await user();
    const b = await user();
    const coll = `pub-${Date.now()}`;
    const keys = Array.from({ length: 13 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    for (const u of [a, b])
      await client.writeStorageObjects(
        u,
        keys.map((key) => ({ collection: coll, key, value: {}, permission_read: 2 })),
      );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listStorageObjects(a, coll, undefined, 10, cursor);
      seen.push(...page.objects.map((o) => `${o.key}/${o.user_id}`));
      cursor = page.cursor || undefined;
      pages++;
    } while (cursor && pages < 10);
    const expected = keys.flatMap((k) => [a.user_id!, b.user_id!].sort().map((id) => `${k}/${id}`));
    assert.equal(seen.length, 26);
    assert.deepEqual(seen, expected);
  });

  test('limit must be 1-100; a bad cursor is refused', async () => {
    const u = await user();
    for (const limit of [0, 101, -1]) {
      const r = await http(s.url, 'GET', `/v2/storage/anything?limit=${limit}`, { auth: bearer(u) });
      assert.equal(r.status, 400, `limit ${limit}`);
      assert.equal(r.body.code, 3);
    }
    assert.equal((await http(s.url, 'GET', '/v2/storage/anything?limit=100', { auth: bearer(u) })).status, 200);
    const bad = await http(s.url, 'GET', '/v2/storage/anything?limit=10&cursor=not-a-cursor', { auth: bearer(u) });
    assert.equal(bad.status, 400);
    assert.equal((await http(s.url, 'GET', '/v2/storage/anything')).status, 401);
  });
});

describe('delete', () => {
  test('a wrong version deletes nothing, in the whole batch; the right one deletes', async () => {
    const u = await user();
    const uid = u.user_id!;
    const acks = (
      await client.writeStorageObjects(u, [
        { collection: 'del', key: 'a', value: { n: 1 } },
        { collection: 'del', key: 'b', value: { n: 2 } },
      ])
    ).acks!;
    const wrong = await http(s.url, 'PUT', '/v2/storage/delete', {
      auth: bearer(u),
      body: {
        object_ids: [
          { collection: 'del', key: 'a' },
          { collection: 'del', key: 'b', version: md5('{"n":999}') },
        ],
      },
    });
    rejected(wrong, DELETE_REJECTED);
    assert.ok(await stored('del', 'a', uid));
    assert.ok(await stored('del', 'b', uid));
    assert.equal(
      await client.deleteStorageObjects(u, {
        object_ids: [
          { collection: 'del', key: 'a', version: acks[0]!.version },
          { collection: 'del', key: 'b' },
        ],
      }),
      true,
    );
    assert.equal(await stored('del', 'a', uid), undefined);
    assert.equal(await stored('del', 'b', uid), undefined);
  });

  test('a client deletes only its own objects; deleting what is not there is refused, as in Nakama', async () => {
    const owner = await user();
    const other = await user();
    await client.writeStorageObjects(owner, [{ collection: 'mine', key: 'k', value: { n: 1 }, permission_read: 2 }]);
    // A delete names no owner: it is always the caller's object, which does not exist.
    const r = await http(s.url, 'PUT', '/v2/storage/delete', {
      auth: bearer(other),
      body: { object_ids: [{ collection: 'mine', key: 'k' }] },
    });
    rejected(r, DELETE_REJECTED);
    assert.ok(await stored('mine', 'k', owner.user_id!));
    // The server's unversioned delete of nothing is a no-op; a versioned one is refused.
    await nk().storageDelete([{ collection: 'mine', key: 'absent', userId: owner.user_id! }]);
    await assert.rejects(nk().storageDelete([{ collection: 'mine', key: 'absent', userId: owner.user_id!, version: md5('{}') }]), {
      code: 3,
      message: DELETE_REJECTED,
    });
  });

  test('deleting an account removes its storage objects', async () => {
    const u = await user();
    const uid = u.user_id!;
    await client.writeStorageObjects(u, [
      { collection: 'gone', key: 'a', value: {}, permission_read: 2 },
      { collection: 'gone', key: 'b', value: {}, permission_write: 0 },
    ]);
    assert.equal((await nk().storageList(uid, 'gone', 10)).objects.length, 2);
    const del = await http(s.url, 'DELETE', '/v2/account', { auth: bearer(u) });
    assert.equal(del.status, 200);
    assert.deepEqual(
      await nk().storageRead([
        { collection: 'gone', key: 'a', userId: uid },
        { collection: 'gone', key: 'b', userId: uid },
      ]),
      [],
    );
    assert.equal((await nk().storageList(uid, 'gone', 10)).objects.length, 0);
  });
});
