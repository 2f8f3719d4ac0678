/**
 * The session room's status and notifications, on local presence and on Redis presence:
 * follow by id and username, status updates and going offline, hidden sessions, live
 * notifications, and a dropped client that reconnects without appearing offline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Room } from '@colyseus/sdk';
import { eventually, inbox, sdk, serverSocketOf } from '../support/realtime.js';
import { newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const presences = process.env.TAVERN_TEST_PRESENCE ? [process.env.TAVERN_TEST_PRESENCE] : ['local', 'redis'];

for (const kind of presences) {
  describe(`status and notifications on ${kind} presence`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind === 'redis' ? { redisUrl: redisUrl(), reconnectWindowSec: 5 } : { reconnectWindowSec: 5 });
    });
    after(async () => {
      await s?.stop();
    });

    async function user(username?: string) {
      const d = await newDevice(s.url, undefined, username);
      return { ...d, uid: decodeJwt(d.token).uid as string, username: decodeJwt(d.token).usn as string };
    }
    async function connect(token: string, options?: Record<string, unknown>): Promise<Room> {
      const room = await sdk(s.url, token).create('session', options);
      await eventually(() => assert.ok((room.state as { sessionId?: string })?.sessionId));
      return room;
    }

    test('a follower sees the current status, updates, and going offline', async () => {
      const alice = await user();
      const bob = await user();
      const a = await connect(alice.token);
      const b = await connect(bob.token);
      const box = inbox(b, ['status', 'status_presence_event', 'error']);
      b.send('status_follow', { user_ids: [alice.uid] });
      const status = await box.take('status');
      assert.equal(status.presences.length, 1);
      assert.equal(status.presences[0].user_id, alice.uid);
      assert.equal(status.presences[0].username, alice.username);

      a.send('status_update', { status: 'in a match' });
      const join = await box.take('status_presence_event', (e) => e.joins?.[0]?.status === 'in a match');
      assert.equal(join.joins[0].user_id, alice.uid);

      a.send('status_update', {});
      const gone = await box.take('status_presence_event', (e) => e.leaves?.length === 1);
      assert.equal(gone.leaves[0].user_id, alice.uid);
      a.send('status_update', { status: 'back' });
      await box.take('status_presence_event', (e) => e.joins?.[0]?.status === 'back');

      await a.leave();
      await box.take('status_presence_event', (e) => e.leaves?.[0]?.user_id === alice.uid);
      b.send('status_unfollow', { user_ids: [alice.uid] });
      const again = await connect(alice.token.replace(/x/g, 'x'));
      await box.none('status_presence_event', (e) => e.joins?.[0]?.user_id === alice.uid);
      await again.leave();
      await b.leave();
    });

    test('follow by username; hidden sessions stay invisible', async () => {
      const carol = await user(`carol_${Date.now()}`);
      const dave = await user();
      const c = await connect(carol.token, { hidden: true });
      const d = await connect(dave.token);
      const box = inbox(d, ['status', 'status_presence_event']);
      d.send('status_follow', { usernames: [carol.username] });
      const status = await box.take('status');
      assert.deepEqual(status.presences, [], 'a hidden session is not online');
      c.send('status_update', { status: 'now visible' });
      const join = await box.take('status_presence_event');
      assert.equal(join.joins[0].username, carol.username);
      await c.leave();
      await d.leave();
    });

    test('bad status messages get an error, the room lives on', async () => {
      const eve = await user();
      const e = await connect(eve.token);
      const box = inbox(e, ['error', 'status']);
      e.send('status_update', { status: 'x'.repeat(2049) });
      assert.equal((await box.take('error')).code, 3);
      e.send('status_follow', { user_ids: ['not-a-uuid'] });
      assert.equal((await box.take('error')).code, 3);
      e.send('status_follow', { user_ids: [] });
      assert.deepEqual((await box.take('status')).presences, []);
      await e.leave();
    });

    test('a notification sent on the server arrives live', async () => {
      const frank = await user();
      const f = await connect(frank.token);
      const box = inbox(f, ['notifications']);
      await s.runtime.nk.notificationSend(frank.uid, 'Reward', { coins: 10 }, 42, null, true);
      const msg = await box.take('notifications');
      assert.equal(msg.notifications.length, 1);
      assert.equal(msg.notifications[0].subject, 'Reward');
      assert.equal(msg.notifications[0].content, '{"coins":10}');
      assert.equal(msg.notifications[0].code, 42);
      await f.leave();
    });

    test('a dropped client that reconnects within the window never appears offline', async () => {
      const gina = await user();
      const hank = await user();
      const g = await connect(gina.token);
      const h = await connect(hank.token);
      const box = inbox(h, ['status', 'status_presence_event']);
      h.send('status_follow', { user_ids: [gina.uid] });
      await box.take('status');
      g.reconnection.minUptime = 0; // the SDK otherwise gives up on rooms joined < 5 s ago
      const reconnected = new Promise<void>((resolve, reject) => {
        g.onReconnect(() => resolve());
        setTimeout(() => reject(new Error('no reconnection within 5 s')), 5000);
      });
      serverSocketOf(g).terminate();
      await reconnected;
      await box.none('status_presence_event', (e) => e.leaves?.[0]?.user_id === gina.uid, 300);
      const gbox = inbox(g, ['notifications']);
      await s.runtime.nk.notificationSend(gina.uid, 'still here', {}, 1);
      assert.equal((await gbox.take('notifications')).notifications[0].subject, 'still here');
      await g.leave();
      await box.take('status_presence_event', (e) => e.leaves?.[0]?.user_id === gina.uid);
      await h.leave();
    });
  });
}
