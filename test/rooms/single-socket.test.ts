/** Single-socket mode: a user's new session closes the older one, which is told why. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, inbox, sdk } from '../support/realtime.js';
import { http, newDevice, serverKeyAuth, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ singleSocket: true });
});
after(async () => {
  await s?.stop();
});

test('a second session of the same user closes the first (code 4409, notification -7)', async () => {
  const d = await newDevice(s.url);
  const first = await sdk(s.url, d.token).create('session');
  first.reconnection.enabled = false;
  const box = inbox(first, ['notifications']);
  let closedWith: number | undefined;
  first.onLeave((code) => (closedWith = code));

  // Another login of the same device is another session of the same user.
  const again = await http(s.url, 'POST', '/v2/account/authenticate/device', { auth: serverKeyAuth, body: { id: d.deviceId } });
  const second = await sdk(s.url, again.body.token).create('session');
  const note = await box.take('notifications');
  assert.equal(note.notifications[0].code, -7);
  await eventually(() => assert.equal(closedWith, 4409));

  // The new session is unaffected.
  const pong = new Promise((resolve) => second.onMessage('pong', resolve));
  second.send('ping', { ok: true });
  assert.deepEqual(await pong, { ok: true });
  await second.leave();
});

test('sessions of different users do not close each other', async () => {
  const a = await newDevice(s.url);
  const b = await newDevice(s.url);
  const ra = await sdk(s.url, a.token).create('session');
  let closed = false;
  ra.onLeave(() => (closed = true));
  const rb = await sdk(s.url, b.token).create('session');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(closed, false);
  await ra.leave();
  await rb.leave();
});
