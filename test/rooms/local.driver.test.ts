/** IndexedLocalDriver keeps the stock driver's answers while finding and removing by id in O(1). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initializeRoomCache } from '@colyseus/core';
import { IndexedLocalDriver } from '../../src/rooms/local.driver.js';

const room = (roomId: string, name = 'session') => initializeRoomCache({ roomId, name, processId: 'p1' });

test('insert refuses duplicates; find, remove and query stay consistent', async () => {
  const d = new IndexedLocalDriver();
  for (let i = 0; i < 1000; i++) assert.equal(await d.insert(room(`r${i}`, i % 2 ? 'chat' : 'session')), true);
  assert.equal(await d.insert(room('r5')), false);
  assert.equal(d.has('r999'), true);
  assert.equal((await d.findOne({ roomId: 'r500' }))?.roomId, 'r500');

  // Remove from the middle, the end and the start; the swapped-in rooms stay findable.
  for (const id of ['r500', 'r999', 'r0', 'r1']) assert.equal(d.remove(id), true);
  assert.equal(d.remove('r500'), false);
  assert.equal(await d.findOne({ roomId: 'r500' }), undefined);
  assert.equal(d.has('r500'), false);
  assert.equal((await d.findOne({ roomId: 'r998' }))?.roomId, 'r998');
  assert.equal((await d.findOne({ roomId: 'r2' }))?.roomId, 'r2');

  const sessions = await d.query({ name: 'session' });
  assert.equal(sessions.length, 500 - 2); // r500 and r0 were sessions
  assert.equal((await d.query({ name: 'chat' })).length, 500 - 2);
  assert.equal(new Set(sessions.map((r) => r.roomId)).size, sessions.length);
  const found = await d.findByIds(['r2', 'r3', 'r500']);
  assert.deepEqual([...found.keys()].sort(), ['r2', 'r3']);
  // Other conditions fall back to the stock query.
  assert.equal((await d.findOne({ name: 'chat', roomId: 'r3' }))?.roomId, 'r3');

  await d.cleanup('p1');
  assert.equal((await d.query({})).length, 0);
  assert.equal(d.has('r2'), false);
});
