/**
 * Notifications: stored, listed with a cacheable cursor, deleted only by their owner, and published
 * on `user:<id>` — on LocalPresence (same object, synchronously) and on RedisPresence (JSON,
 * asynchronously) alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalPresence, type Presence } from '@colyseus/core';
import { RedisPresence } from '@colyseus/redis-presence';
import type { Em } from '../../src/services/db.js';
import { sendNotifications, userChannel, type NotificationEvent } from '../../src/services/notifications.js';
import { http, newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

const em = () => s.orm.em.fork() as unknown as Em;
const uidOf = (token: string) => decodeJwt(token).uid as string;

function nextMessage(presence: Presence, channel: string, ms = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing on ${channel} within ${ms} ms`)), ms);
    const cb = (data: unknown) => {
      clearTimeout(timer);
      void presence.unsubscribe(channel, cb);
      resolve(data);
    };
    void presence.subscribe(channel, cb);
  });
}

for (const kind of ['local', 'redis'] as const) {
  describe(`live delivery on ${kind} presence`, () => {
    let presence: Presence;
    before(() => {
      presence = kind === 'local' ? new LocalPresence() : new RedisPresence(redisUrl());
    });
    after(() => presence.shutdown());

    test('a persistent notification is stored and published in Nakama’s wire shape', async () => {
      const d = await newDevice(s.url);
      const uid = uidOf(d.token);
      const got = nextMessage(presence, userChannel(uid));
      // Let the Redis subscription settle before publishing.
      if (kind === 'redis') await new Promise((r) => setTimeout(r, 100));
      const [sent] = await sendNotifications(em(), presence, [
        { userId: uid, subject: 'hello', content: { gold: 5 }, code: 101, persistent: true },
      ]);
      const event = (await got) as NotificationEvent;
      // Whatever the presence, the payload is plain JSON: it survives a round trip unchanged.
      assert.deepEqual(JSON.parse(JSON.stringify(event)), event);
      assert.equal(event.type, 'notifications');
      assert.equal(event.notifications.length, 1);
      assert.deepEqual(event.notifications[0], {
        id: sent!.id,
        subject: 'hello',
        content: '{"gold":5}',
        code: 101,
        create_time: event.notifications[0]!.create_time,
        persistent: true,
      });
      const list = await http(s.url, 'GET', '/v2/notification', { auth: d.bearer });
      assert.equal(list.body.notifications[0].id, sent!.id);
    });

    test('a non-persistent notification is published but not stored', async () => {
      const d = await newDevice(s.url);
      const uid = uidOf(d.token);
      const got = nextMessage(presence, userChannel(uid));
      if (kind === 'redis') await new Promise((r) => setTimeout(r, 100));
      await sendNotifications(em(), presence, [{ userId: uid, subject: 'fleeting', content: {}, code: 7, persistent: false }]);
      const event = (await got) as NotificationEvent;
      assert.equal(event.notifications[0]!.subject, 'fleeting');
      assert.equal(event.notifications[0]!.persistent, undefined);
      const list = await http(s.url, 'GET', '/v2/notification', { auth: d.bearer });
      assert.equal(list.body.notifications, undefined);
    });
  });
}

describe('listing and deleting', () => {
  test('the cacheable cursor pages oldest first, then returns only newer notifications', async () => {
    const d = await newDevice(s.url);
    const uid = uidOf(d.token);
    const presence = new LocalPresence();
    for (let i = 0; i < 5; i++)
      await sendNotifications(em(), presence, [{ userId: uid, subject: `n${i}`, content: { i }, code: 1, persistent: true }]);
    const first = await http(s.url, 'GET', '/v2/notification?limit=3', { auth: d.bearer });
    assert.deepEqual(
      first.body.notifications.map((n: { subject: string }) => n.subject),
      ['n0', 'n1', 'n2'],
    );
    const second = await http(s.url, 'GET', `/v2/notification?limit=3&cacheable_cursor=${first.body.cacheable_cursor}`, { auth: d.bearer });
    assert.deepEqual(
      second.body.notifications.map((n: { subject: string }) => n.subject),
      ['n3', 'n4'],
    );
    const empty = await http(s.url, 'GET', `/v2/notification?limit=3&cacheable_cursor=${second.body.cacheable_cursor}`, { auth: d.bearer });
    assert.equal(empty.body.notifications, undefined);
    assert.equal(empty.body.cacheable_cursor, second.body.cacheable_cursor, 'nothing new: the same cursor comes back');
    await sendNotifications(em(), presence, [{ userId: uid, subject: 'later', content: {}, code: 1, persistent: true }]);
    const later = await http(s.url, 'GET', `/v2/notification?limit=3&cacheable_cursor=${empty.body.cacheable_cursor}`, { auth: d.bearer });
    assert.deepEqual(
      later.body.notifications.map((n: { subject: string }) => n.subject),
      ['later'],
    );
    assert.equal((await http(s.url, 'GET', '/v2/notification?limit=0', { auth: d.bearer })).status, 400);
    assert.equal((await http(s.url, 'GET', '/v2/notification?cacheable_cursor=garbage', { auth: d.bearer })).status, 400);
  });

  test('nobody reads or deletes another user’s notifications', async () => {
    const alice = await newDevice(s.url);
    const bob = await newDevice(s.url);
    const [n] = await sendNotifications(em(), new LocalPresence(), [
      { userId: uidOf(alice.token), subject: 'private', content: {}, code: 1, persistent: true },
    ]);
    const bobs = await http(s.url, 'GET', '/v2/notification', { auth: bob.bearer });
    assert.equal(bobs.body.notifications, undefined);
    assert.equal((await http(s.url, 'DELETE', `/v2/notification?ids=${n!.id}`, { auth: bob.bearer })).status, 200);
    assert.equal(
      (await http(s.url, 'GET', '/v2/notification', { auth: alice.bearer })).body.notifications.length,
      1,
      'bob’s delete did nothing',
    );
    assert.equal((await http(s.url, 'DELETE', `/v2/notification?ids=${n!.id}`, { auth: alice.bearer })).status, 200);
    assert.equal((await http(s.url, 'GET', '/v2/notification', { auth: alice.bearer })).body.notifications, undefined);
  });

  test('negative codes are reserved for the system', async () => {
    const d = await newDevice(s.url);
    await assert.rejects(
      () =>
        sendNotifications(em(), new LocalPresence(), [{ userId: uidOf(d.token), subject: 'x', content: {}, code: -2, persistent: true }]),
      /reserved for the system/,
    );
    const [ok] = await sendNotifications(
      em(),
      new LocalPresence(),
      [{ userId: uidOf(d.token), subject: 'x', content: {}, code: -2, persistent: true }],
      {
        system: true,
      },
    );
    assert.equal(ok!.code, -2);
  });
});
