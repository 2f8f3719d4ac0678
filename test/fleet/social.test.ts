/**
 * Two Tavern processes on one PostgreSQL and one Redis (a fleet): chat channels joined through
 * different processes end in one room, also when many clients create the same channels at once;
 * a follower on one process sees a user connected to the other come and go; a notification sent
 * by HTTP on one process reaches a session connected to the other.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Room } from '@colyseus/sdk';
import { fleetClient, hostOf, startFleet, problems, type Fleet, type FleetProcess } from '../support/fleet.js';
import { fleetSession, fleetUser } from '../support/fleet-clients.js';
import { eventually, inbox } from '../support/realtime.js';
import { http } from '../support/server.js';

const modules = path.join(import.meta.dirname, '..', 'fixtures', 'fleet-modules');
const CHAT = ['channel', 'channel_message', 'channel_message_ack', 'channel_presence_event', 'error'];
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

describe('a fleet of two processes: chat, status and notifications', () => {
  let fleet: Fleet;
  let p0: FleetProcess;
  let p1: FleetProcess;
  before(async () => {
    fleet = await startFleet({ count: 2, runtimePath: modules, env: { TAVERN_SHUTDOWN_GRACE_SEC: '1' } });
    [p0, p1] = fleet.processes as [FleetProcess, FleetProcess];
  });
  after(async () => {
    await fleet?.stop();
  });

  const user = fleetUser;
  const members = (room: Room) => (room.state as { members?: Map<string, unknown> } | undefined)?.members?.size ?? 0;
  const session = fleetSession;

  test('users joining a room channel through different processes chat in one room', async () => {
    const [alice, bob] = [await user(p0), await user(p1)];
    const name = unique('lobby');
    const ca = fleetClient(p0.url, alice.token);
    const a = await ca.create('chat', { type: 1, target: name });
    const abox = inbox(a, CHAT);
    const cb = fleetClient(p1.url, bob.token);
    const b = await cb.create('chat', { type: 1, target: name });
    const bbox = inbox(b, CHAT);
    assert.equal(b.roomId, a.roomId);
    const host = hostOf(fleet, ca, a);
    assert.ok(host, `the room's host is a fleet process (${ca.hosts.get(a.roomId)})`);
    assert.equal(hostOf(fleet, cb, b), host, 'both clients were sent to the same process');

    const joined = await abox.take('channel_presence_event', (e) => e.joins?.some((j: { user_id: string }) => j.user_id === bob.uid));
    assert.equal(joined.joins[0].username, bob.username);
    await eventually(() => {
      assert.equal(members(a), 2);
      assert.equal(members(b), 2);
    });

    a.send('channel_message_send', { content: { text: 'hello from process 0' } });
    const ackA = await abox.take('channel_message_ack');
    const gotB = await bbox.take('channel_message', (m) => m.sender_id === alice.uid);
    assert.equal(gotB.message_id, ackA.message_id);
    assert.equal(gotB.sender_id, alice.uid);
    assert.equal(gotB.content, '{"text":"hello from process 0"}');

    b.send('channel_message_send', { content: { text: 'hello from process 1' } });
    const ackB = await bbox.take('channel_message_ack');
    const gotA = await abox.take('channel_message', (m) => m.sender_id === bob.uid);
    assert.equal(gotA.message_id, ackB.message_id);
    assert.equal(gotA.sender_id, bob.uid);

    // The history is the same whichever process serves it.
    const channel = encodeURIComponent((a.state as { channelId: string }).channelId);
    for (const [p, u] of [
      [p0, bob],
      [p1, alice],
    ] as const) {
      const history = await http(p.url, 'GET', `/v2/channel/${channel}?limit=10&forward=true`, { auth: u.bearer });
      assert.equal(history.status, 200, `${JSON.stringify(history.body)}\n${problems(p)}`);
      assert.deepEqual(
        history.body.messages.map((m: { message_id: string }) => m.message_id),
        [ackA.message_id, ackB.message_id],
      );
    }

    await b.leave();
    const left = await abox.take('channel_presence_event', (e) => e.leaves?.length === 1);
    assert.equal(left.leaves[0].user_id, bob.uid);
    await eventually(() => assert.equal(members(a), 1));
    await a.leave();
  });

  test('many clients creating the same channels at once through both processes share one room per channel', async (t) => {
    const users = await Promise.all([p0, p1, p0, p1, p0, p1].map((p) => user(p)));
    const names = Array.from({ length: 10 }, (_, i) => unique(`rush${i}`));
    const joins = names.flatMap((name) =>
      users.map(async (u, i) => {
        const p = i % 2 === 0 ? p0 : p1;
        const client = fleetClient(p.url, u.token);
        const room = await client.create('chat', { type: 1, target: name });
        return { name, user: u, client, room, via: p };
      }),
    );
    const settled = await Promise.allSettled(joins);
    const failures = settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(failures, [], 'every join succeeds');
    const joined = settled.map((r) => (r as PromiseFulfilledResult<Awaited<(typeof joins)[number]>>).value);
    for (const name of names) {
      const rooms = joined.filter((j) => j.name === name);
      assert.equal(rooms.length, users.length);
      assert.equal(new Set(rooms.map((j) => j.room.roomId)).size, 1, `${name}: one room id`);
      const hosts = new Set(rooms.map((j) => j.client.hosts.get(j.room.roomId)));
      assert.equal(hosts.size, 1, `${name}: every client was sent to the same process (${[...hosts].join(', ')})`);
      // Had two processes each created the room, each copy would hold only some of the members.
      await eventually(() => {
        for (const j of rooms) assert.equal(members(j.room), users.length, `${name}: ${j.user.uid} sees every member`);
      });
    }
    const placed: Record<string, number> = {};
    for (const name of names) {
      const j = joined.find((x) => x.name === name)!;
      const where = hostOf(fleet, j.client, j.room)?.nodeName ?? '?';
      placed[where] = (placed[where] ?? 0) + 1;
    }
    t.diagnostic(`channels by host: ${JSON.stringify(placed)}`);
    // One message per channel reaches everyone in it.
    const boxes = joined.map((j) => ({ j, box: inbox(j.room, CHAT) }));
    for (const name of names) {
      const [sender, ...others] = boxes.filter((b) => b.j.name === name);
      sender!.j.room.send('channel_message_send', { content: { channel: name } });
      const ack = await sender!.box.take('channel_message_ack');
      for (const o of others) await o.box.take('channel_message', (m) => m.message_id === ack.message_id);
    }
    await Promise.all(joined.map((j) => j.room.leave()));
  });

  test('a follower on one process sees a user connected to the other come online, change status and leave', async () => {
    const [alice, bob] = [await user(p0), await user(p1)];
    const a = await session(p0, alice.token);
    assert.equal(hostOf(fleet, a.client, a.room), p0, 'a session room lives on the process its client asked');
    const box = inbox(a.room, ['status', 'status_presence_event', 'error']);
    a.room.send('status_follow', { user_ids: [bob.uid] });
    assert.deepEqual((await box.take('status')).presences, [], 'bob is not online yet');

    const b = await session(p1, bob.token);
    assert.equal(hostOf(fleet, b.client, b.room), p1);
    const online = await box.take('status_presence_event', (e) => e.joins?.[0]?.user_id === bob.uid);
    assert.equal(online.joins[0].username, bob.username);
    const bobSession = online.joins[0].session_id as string;

    b.room.send('status_update', { status: 'questing' });
    const update = await box.take('status_presence_event', (e) => e.joins?.[0]?.status === 'questing');
    assert.equal(update.joins[0].user_id, bob.uid);

    // A second follower, on bob's own process, gets the current status from the shared presence.
    const carol = await user(p1);
    const c = await session(p1, carol.token);
    const cbox = inbox(c.room, ['status', 'status_presence_event']);
    c.room.send('status_follow', { usernames: [bob.username] });
    const status = await cbox.take('status');
    assert.deepEqual(
      status.presences.map((x: { user_id: string; status?: string }) => [x.user_id, x.status]),
      [[bob.uid, 'questing']],
    );

    await b.room.leave();
    const gone = await box.take('status_presence_event', (e) => e.leaves?.[0]?.user_id === bob.uid);
    assert.equal(gone.leaves[0].session_id, bobSession);
    await cbox.take('status_presence_event', (e) => e.leaves?.[0]?.user_id === bob.uid);

    // Following again from process 0 finds no one online.
    const again = await session(p0, (await user(p0)).token);
    const abox = inbox(again.room, ['status']);
    again.room.send('status_follow', { user_ids: [bob.uid] });
    assert.deepEqual((await abox.take('status')).presences, []);
    await Promise.all([a.room.leave(), c.room.leave(), again.room.leave()]);
  });

  test('a notification sent by HTTP on one process reaches a session connected to the other live', async () => {
    const dana = await user(p1);
    const d = await session(p1, dana.token);
    const box = inbox(d.room, ['notifications']);
    const subject = unique('reward');
    const res = await http(p0.url, 'POST', '/v2/rpc/notify?http_key=defaulthttpkey', {
      rawBody: JSON.stringify(JSON.stringify({ user_id: dana.uid, subject, content: { coins: 7 }, code: 101 })),
    });
    assert.equal(res.status, 200, `${JSON.stringify(res.body)}\n${problems(p0)}`);
    const got = await box.take('notifications', (m) => m.notifications?.some((n: { subject: string }) => n.subject === subject));
    const note = got.notifications.find((n: { subject: string }) => n.subject === subject);
    assert.equal(note.content, '{"coins":7}');
    assert.equal(note.code, 101);
    // It was stored too (persistent): listed on either process.
    for (const p of [p0, p1]) {
      const list = await http(p.url, 'GET', '/v2/notification?limit=10', { auth: dana.bearer });
      assert.ok(
        list.body.notifications?.some((n: { subject: string }) => n.subject === subject),
        `listed on ${p.nodeName}: ${JSON.stringify(list.body)}`,
      );
    }
    await d.room.leave();
  });
});
