/** The session actor against an in-memory presence (pub/sub, sets and keys), two sessions talking. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onlineKey, SessionActor, statusChannel, type PresenceStore } from '../../src/actors/session.actor.js';

/** A tiny presence: synchronous pub/sub, sets and string keys, like Colyseus's LocalPresence. */
function memoryPresence(): PresenceStore & { sets: Map<string, Set<string>>; keys: Map<string, string> } {
  const subs = new Map<string, Set<(d: unknown) => void>>();
  const sets = new Map<string, Set<string>>();
  const keys = new Map<string, string>();
  return {
    sets,
    keys,
    async subscribe(topic, cb) {
      (subs.get(topic) ?? subs.set(topic, new Set()).get(topic)!).add(cb);
    },
    unsubscribe(topic, cb) {
      if (cb) subs.get(topic)?.delete(cb);
      else subs.delete(topic);
    },
    publish(topic, data) {
      for (const cb of subs.get(topic) ?? []) cb(JSON.parse(JSON.stringify(data)));
    },
    sadd: (k, v) => (sets.get(k) ?? sets.set(k, new Set()).get(k)!).add(v),
    srem: (k, v) => sets.get(k)?.delete(v),
    smembers: async (k) => [...(sets.get(k) ?? [])],
    set: (k, v) => keys.set(k, v),
    get: (k) => keys.get(k) ?? null,
    del: (k) => keys.delete(k),
  };
}

function session(presence: PresenceStore, userId: string, sessionId: string) {
  const inbox: { type: string; message: any }[] = [];
  const errors: unknown[] = [];
  const actor = new SessionActor(
    { presence, send: (type, message) => inbox.push({ type, message }), onError: (e) => errors.push(e) },
    { userId, username: userId.toUpperCase(), sessionId },
  );
  return { actor, inbox, errors };
}

test('online, status updates, offline: followers see each step', async () => {
  const presence = memoryPresence();
  const alice = session(presence, 'alice', 'sa');
  const bob = session(presence, 'bob', 'sb');
  await alice.actor.start(false);
  await bob.actor.start(false);
  assert.deepEqual(presence.sets.get(onlineKey('alice')), new Set(['sa']));

  const current = await bob.actor.follow(['alice', 'bob']);
  assert.deepEqual(current, [{ user_id: 'alice', session_id: 'sa', username: 'ALICE' }], 'following yourself is ignored');
  await alice.actor.updateStatus('raiding');
  assert.deepEqual(bob.inbox.at(-1), {
    type: 'status_presence_event',
    message: { joins: [{ user_id: 'alice', session_id: 'sa', username: 'ALICE', status: 'raiding' }] },
  });
  await alice.actor.updateStatus(undefined);
  assert.equal(bob.inbox.at(-1)!.message.leaves[0].user_id, 'alice');
  assert.equal(presence.sets.get(onlineKey('alice'))!.size, 0);
  await alice.actor.updateStatus('back');
  assert.equal(bob.inbox.at(-1)!.message.joins[0].status, 'back');

  await bob.actor.unfollow(['alice']);
  const before = bob.inbox.length;
  await alice.actor.stop();
  assert.equal(bob.inbox.length, before, 'no events after unfollowing');
  assert.equal(presence.keys.size, 1, "only bob's status key is left");
  assert.deepEqual(alice.errors, []);
});

test('hidden sessions are not online until they set a status; notifications are delivered', async () => {
  const presence = memoryPresence();
  const carol = session(presence, 'carol', 'sc');
  await carol.actor.start(true);
  assert.equal(presence.sets.get(onlineKey('carol')), undefined);
  presence.publish('user:carol', { type: 'notifications', notifications: [{ id: 'n1' }] });
  assert.deepEqual(carol.inbox, [{ type: 'notifications', message: { notifications: [{ id: 'n1' }] } }]);
  presence.publish('user:carol', { type: 'something-else' });
  assert.equal(carol.inbox.length, 1, 'other events on the user channel are not notifications');
  const watcher = session(presence, 'dave', 'sd');
  await watcher.actor.start(false);
  await watcher.actor.follow(['carol']);
  await carol.actor.updateStatus('visible now');
  assert.equal(watcher.inbox.at(-1)!.message.joins[0].status, 'visible now');
  presence.publish(statusChannel('carol'), { leaves: [] });
  assert.deepEqual(watcher.inbox.at(-1)!.message, { leaves: [] }, 'events are relayed as published');
});

test('a failing send is reported, not thrown into the publisher', async () => {
  const presence = memoryPresence();
  const errors: unknown[] = [];
  const actor = new SessionActor(
    {
      presence,
      send: () => {
        throw new Error('socket gone');
      },
      onError: (e) => errors.push(e),
    },
    { userId: 'eve', username: 'EVE', sessionId: 'se' },
  );
  await actor.start(false);
  presence.publish('user:eve', { type: 'notifications', notifications: [] });
  assert.equal(errors.length, 1);
});
