/**
 * Chat channels through real SDK clients, on local and on Redis presence: room, group and direct
 * message channels, access rules, edits and removals, history both ways, server-sent messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { matchMaker } from '@colyseus/core';
import { MatchMakeError, type Room } from '@colyseus/sdk';
import { chatRoomId } from '../../src/rooms/chat.room.js';
import { eventually, inbox, sdk } from '../support/realtime.js';
import { http, newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

const presences = process.env.TAVERN_TEST_PRESENCE ? [process.env.TAVERN_TEST_PRESENCE] : ['local', 'redis'];

for (const kind of presences) {
  describe(`chat on ${kind} presence`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind === 'redis' ? { redisUrl: redisUrl() } : {});
    });
    after(async () => {
      await s?.stop();
    });

    async function user() {
      const d = await newDevice(s.url);
      const claims = decodeJwt(d.token);
      return { ...d, uid: claims.uid as string, username: claims.usn as string };
    }
    const join = (token: string, options: Record<string, unknown>): Promise<Room> => sdk(s.url, token).create('chat', options);
    const types = ['channel', 'channel_message', 'channel_message_ack', 'channel_presence_event', 'error', 'notifications'];

    test('two users chat in a room channel; members are state and presence events', async () => {
      const alice = await user();
      const bob = await user();
      const name = `lobby-${Date.now()}`;
      const a = await join(alice.token, { type: 1, target: name });
      const abox = inbox(a, types);
      await eventually(() => assert.equal((a.state as any)?.channelId, `2...${name}`));
      assert.equal(a.roomId, chatRoomId(`2...${name}`), 'the room id comes from the channel id');

      const b = await join(bob.token, { type: 1, target: name });
      const bbox = inbox(b, types);
      assert.equal(b.roomId, a.roomId, 'the second join found the same room');
      await eventually(() => assert.equal((b.state as any)?.members?.size, 2));
      const joined = await abox.take('channel_presence_event');
      assert.equal(joined.joins[0].user_id, bob.uid);
      await eventually(() => assert.equal((a.state as any).members.size, 2));
      assert.equal((await matchMaker.query({ name: 'chat' })).filter((r) => r.roomId === a.roomId).length, 1);

      a.send('channel_message_send', { content: { text: 'hello' } });
      const ack = await abox.take('channel_message_ack');
      const got = await bbox.take('channel_message');
      assert.equal(got.message_id, ack.message_id);
      assert.equal(got.sender_id, alice.uid);
      assert.equal(got.username, alice.username);
      assert.equal(got.content, '{"text":"hello"}');
      assert.equal(got.code, 0);
      assert.equal(got.persistent, true);

      await b.leave();
      const left = await abox.take('channel_presence_event', (e) => e.leaves?.length === 1);
      assert.equal(left.leaves[0].user_id, bob.uid);
      await eventually(() => assert.equal((a.state as any).members.size, 1));
      await a.leave();
    });

    test('edit and remove: own messages only; history pages both ways', async () => {
      const alice = await user();
      const bob = await user();
      const name = `history-${Date.now()}`;
      const a = await join(alice.token, { type: 1, target: name });
      const b = await join(bob.token, { type: 1, target: name });
      const abox = inbox(a, types);
      const bbox = inbox(b, types);
      const ids: string[] = [];
      await eventually(() => assert.ok((a.state as any)?.channelId));
      const channelId = (a.state as any).channelId as string;
      for (let i = 0; i < 5; i++) {
        a.send('channel_message_send', { content: JSON.stringify({ n: i }) });
        ids.push((await abox.take('channel_message_ack')).message_id);
      }
      b.send('channel_message_update', { message_id: ids[0], content: { hacked: true } });
      assert.equal((await bbox.take('error')).status, 7);
      b.send('channel_message_remove', { message_id: ids[0] });
      assert.equal((await bbox.take('error')).status, 7);

      a.send('channel_message_update', { message_id: ids[0], content: { n: 'zero' } });
      const edited = await bbox.take('channel_message', (m) => m.code === 1);
      assert.equal(edited.content, '{"n":"zero"}');
      a.send('channel_message_remove', { message_id: ids[4] });
      assert.equal((await bbox.take('channel_message', (m) => m.code === 2)).message_id, ids[4]);

      const channel = encodeURIComponent(channelId);
      const page1 = await http(s.url, 'GET', `/v2/channel/${channel}?limit=2&forward=true`, { auth: bob.bearer });
      assert.deepEqual(
        page1.body.messages.map((m: any) => m.message_id),
        ids.slice(0, 2),
      );
      assert.equal(page1.body.messages[0].content, '{"n":"zero"}');
      const page2 = await http(s.url, 'GET', `/v2/channel/${channel}?limit=2&forward=true&cursor=${page1.body.next_cursor}`, {
        auth: bob.bearer,
      });
      assert.deepEqual(
        page2.body.messages.map((m: any) => m.message_id),
        ids.slice(2, 4),
      );
      assert.equal(page2.body.next_cursor, undefined, 'the removed message is gone');
      const back = await http(s.url, 'GET', `/v2/channel/${channel}?limit=2&cursor=${page2.body.prev_cursor}`, { auth: bob.bearer });
      assert.deepEqual(
        back.body.messages.map((m: any) => m.message_id),
        [ids[1], ids[0]],
      );
      const newest = await http(s.url, 'GET', `/v2/channel/${channel}?limit=10&forward=false`, { auth: bob.bearer });
      assert.deepEqual(
        newest.body.messages.map((m: any) => m.message_id),
        [ids[3], ids[2], ids[1], ids[0]],
      );
      await a.leave();
      await b.leave();
    });

    test('content must be a JSON object within the size limit', async () => {
      const alice = await user();
      const a = await join(alice.token, { type: 1, target: `limits-${Date.now()}` });
      const box = inbox(a, types);
      a.send('channel_message_send', { content: '[1,2]' });
      assert.equal((await box.take('error')).code, 3);
      a.send('channel_message_send', { content: { big: 'x'.repeat(5000) } });
      assert.equal((await box.take('error')).code, 3);
      a.send('channel_message_send', { channel_id: '2...elsewhere', content: {} });
      assert.equal((await box.take('error')).code, 3);
      await a.leave();
    });

    test('joinOrCreate and join find the room of the channel asked for, not any chat room', async () => {
      const [alice, bob] = [await user(), await user()];
      const [x, y] = [`jx-${Date.now()}`, `jy-${Date.now()}`];
      const ax = await sdk(s.url, alice.token).joinOrCreate('chat', { type: 1, target: x });
      const by = await sdk(s.url, bob.token).joinOrCreate('chat', { type: 1, target: y });
      assert.equal(ax.roomId, chatRoomId(`2...${x}`));
      assert.equal(by.roomId, chatRoomId(`2...${y}`));
      const bx = await sdk(s.url, bob.token).join('chat', { type: 1, target: x });
      assert.equal(bx.roomId, ax.roomId);
      for (const r of [ax, by, bx]) await r.leave();
    });

    test('a group channel refuses non-members', async () => {
      const owner = await user();
      const stranger = await user();
      const group = await s.runtime.nk.groupCreate(owner.uid, `chatters-${Date.now()}`, owner.uid);
      const g = await join(owner.token, { type: 3, target: group.id });
      assert.equal(g.roomId, chatRoomId(`3.${group.id}..`));
      await assert.rejects(
        join(stranger.token, { type: 3, target: group.id }),
        (err: unknown) => err instanceof MatchMakeError && err.code === 403,
      );
      await g.leave();
    });

    test('a direct message: the other user is notified; blocking refuses it', async () => {
      const alice = await user();
      const bob = await user();
      const bobSession = await sdk(s.url, bob.token).create('session');
      const notes = inbox(bobSession, ['notifications']);
      const dm = await join(alice.token, { type: 2, target: bob.uid });
      const [lo, hi] = [alice.uid, bob.uid].sort();
      assert.equal(dm.roomId, chatRoomId(`4.${lo}.${hi}.`));
      const note = await notes.take('notifications');
      assert.equal(note.notifications[0].code, -1);
      await dm.leave();

      const blocked = await http(s.url, 'POST', `/v2/friend/block?ids=${alice.uid}`, { auth: bob.bearer });
      assert.equal(blocked.status, 200);
      await assert.rejects(
        join(alice.token, { type: 2, target: bob.uid }),
        (err: unknown) => err instanceof MatchMakeError && err.code === 403,
      );
      await assert.rejects(
        join(bob.token, { type: 2, target: alice.uid }),
        (err: unknown) => err instanceof MatchMakeError && err.code === 403,
      );
      await bobSession.leave();
    });

    test('bad join options are refused before any room exists', async () => {
      const alice = await user();
      for (const options of [
        {},
        { type: 9, target: 'x' },
        { type: 1, target: '' },
        { type: 1, target: 'a.b' },
        { type: 2, target: 'not-a-uuid' },
      ]) {
        await assert.rejects(
          join(alice.token, options),
          (err: unknown) => err instanceof MatchMakeError && err.code === 400,
          JSON.stringify(options),
        );
      }
    });

    test('hidden members are not listed; server code sends into the channel', async () => {
      const alice = await user();
      const ghost = await user();
      const name = `hidden-${Date.now()}`;
      const a = await join(alice.token, { type: 1, target: name });
      const abox = inbox(a, types);
      await eventually(() => assert.ok((a.state as any)?.channelId));
      const channelId = (a.state as any).channelId as string;
      const g = await join(ghost.token, { type: 1, target: name, hidden: true });
      await abox.none('channel_presence_event');
      assert.equal((a.state as any).members.size, 1);
      const ack = await s.runtime.nk.channelMessageSend(channelId, { from: 'server' }, null, 'system', true);
      const got = await abox.take('channel_message', (m) => m.message_id === ack.messageId);
      assert.equal(got.content, '{"from":"server"}');
      const listed = await s.runtime.nk.channelMessagesList(channelId, 10, true);
      assert.equal(listed.messages.at(-1)?.messageId, ack.messageId);
      await g.leave();
      await a.leave();
    });
  });
}
