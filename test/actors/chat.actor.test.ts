/** The chat actor without sockets or a database: in-memory ports record what it sends and stores. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatActor, type ChatPorts } from '../../src/actors/chat.actor.js';
import type { ChannelMessage } from '../../src/services/chat.js';

function harness() {
  const sent: { to: string; type: string; message: any }[] = [];
  const broadcasts: { type: string; message: any; except?: string }[] = [];
  const stored = new Map<string, ChannelMessage>();
  let n = 0;
  const message = (senderId: string, username: string, content: string, persistent: boolean, code = 0): ChannelMessage => ({
    channel_id: '2...lobby',
    message_id: `m${++n}`,
    code,
    sender_id: senderId,
    username,
    content,
    create_time: '2026-01-01T00:00:00Z',
    update_time: '2026-01-01T00:00:00Z',
    persistent,
    room_name: 'lobby',
  });
  const ports: ChatPorts = {
    async create(sender, content, persist) {
      const m = message(sender.userId, sender.username, content, persist);
      if (persist) stored.set(m.message_id, m);
      return m;
    },
    async update(senderId, id, content) {
      const m = stored.get(id);
      if (!m || m.sender_id !== senderId) throw new Error('not yours');
      const u = { ...m, content, code: 1 };
      stored.set(id, u);
      return u;
    },
    async remove(senderId, id) {
      const m = stored.get(id);
      if (!m || m.sender_id !== senderId) throw new Error('not yours');
      stored.delete(id);
      return { ...m, code: 2 };
    },
    broadcast: (type, message, except) => broadcasts.push({ type, message, ...(except ? { except } : {}) }),
    send: (to, type, message) => sent.push({ to, type, message }),
  };
  const actor = new ChatActor(ports, { id: '2...lobby', type: 1, roomName: 'lobby' });
  return { actor, sent, broadcasts, stored };
}

const alice = { userId: 'u-a', username: 'alice', sessionId: 's-a', persistence: true, hidden: false };
const bob = { userId: 'u-b', username: 'bob', sessionId: 's-b', persistence: false, hidden: false };
const ghost = { userId: 'u-g', username: 'ghost', sessionId: 's-g', persistence: true, hidden: true };

test('joins and leaves: state and presence events; hidden members stay out of both', () => {
  const { actor, broadcasts } = harness();
  const welcome = actor.join(alice);
  assert.equal(welcome.id, '2...lobby');
  assert.equal(welcome.room_name, 'lobby');
  assert.deepEqual(welcome.self, { user_id: 'u-a', session_id: 's-a', username: 'alice', persistence: true });
  actor.join(bob);
  actor.join(ghost);
  assert.deepEqual([...actor.state.members.keys()].sort(), ['s-a', 's-b']);
  assert.equal(actor.size, 3);
  assert.equal(broadcasts.filter((b) => b.type === 'channel_presence_event').length, 2, 'the hidden join was not announced');
  assert.equal(broadcasts[1]!.except, 's-b', 'a joiner is not told of its own join');
  actor.leave('s-b');
  actor.leave('s-g');
  assert.deepEqual([...actor.state.members.keys()], ['s-a']);
  assert.deepEqual(broadcasts.at(-1)!.message.leaves, [{ user_id: 'u-b', session_id: 's-b', username: 'bob', persistence: false }]);
  assert.equal(actor.hasUser('u-a'), true);
  assert.equal(actor.hasUser('u-b'), false);
});

test('send: stored per the sender’s persistence, acknowledged to the sender, delivered to all', async () => {
  const { actor, sent, broadcasts, stored } = harness();
  actor.join(alice);
  actor.join(bob);
  await actor.send('s-a', '{"text":"hi"}');
  await actor.send('s-b', '{"text":"yo"}');
  assert.equal(stored.size, 1, 'bob joined without persistence');
  const acks = sent.filter((s) => s.type === 'channel_message_ack');
  assert.deepEqual(
    acks.map((a) => a.to),
    ['s-a', 's-b'],
  );
  assert.equal(acks[0]!.message.content, undefined, 'an ack carries no content');
  const delivered = broadcasts.filter((b) => b.type === 'channel_message');
  assert.deepEqual(
    delivered.map((d) => d.message.content),
    ['{"text":"hi"}', '{"text":"yo"}'],
  );
  await assert.rejects(actor.send('s-nobody', '{}'), /Not a member/);
});

test('update and remove go through the store’s ownership check', async () => {
  const { actor, broadcasts } = harness();
  actor.join(alice);
  actor.join(bob);
  await actor.send('s-a', '{"v":1}');
  const id = broadcasts.at(-1)!.message.message_id as string;
  await assert.rejects(actor.update('s-b', id, '{"v":2}'), /not yours/);
  await actor.update('s-a', id, '{"v":2}');
  assert.equal(broadcasts.at(-1)!.message.code, 1);
  await actor.remove('s-a', id);
  assert.equal(broadcasts.at(-1)!.message.code, 2);
});

test('deliver: server messages for this channel only', () => {
  const { actor, broadcasts } = harness();
  actor.join(alice);
  const base = { message_id: 'x', code: 0, sender_id: '', username: '', content: '{}', create_time: '', update_time: '', persistent: true };
  actor.deliver({ ...base, channel_id: '2...elsewhere' });
  actor.deliver({ ...base, channel_id: '2...lobby' });
  assert.equal(broadcasts.filter((b) => b.type === 'channel_message').length, 1);
});
