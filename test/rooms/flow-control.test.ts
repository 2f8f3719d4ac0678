/** Flow control: a flooding client is warned, then dropped; a client that stops reading is disconnected. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { eventually, inbox, sdk } from '../support/realtime.js';
import { newDevice, startTestServer, type TestServer } from '../support/server.js';
import { decodeJwt } from '../support/wire.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ messagesPerSecond: 20, maxBufferedBytes: 256 * 1024 });
});
after(async () => {
  await s?.stop();
});

test('a flooder gets warnings, then is disconnected (4429); others are unaffected', async () => {
  const flooder = await newDevice(s.url);
  const calm = await newDevice(s.url);
  const f = await sdk(s.url, flooder.token).create('session');
  f.reconnection.enabled = false;
  const c = await sdk(s.url, calm.token).create('session');
  const fbox = inbox(f, ['error', 'pong']);
  let closed: number | undefined;
  f.onLeave((code) => (closed = code));
  // Well over 20/s sustained (40 burst), for several seconds: warnings, then the drop.
  const flood = setInterval(() => {
    for (let i = 0; i < 20; i++) if (closed === undefined) f.send('ping', { i });
  }, 100);
  try {
    const warning = await fbox.take('error', (e) => e.status === 8);
    assert.match(warning.message, /Too many messages/);
    await eventually(() => assert.equal(closed, 4429), 10_000);
  } finally {
    clearInterval(flood);
  }
  const pong = new Promise((resolve) => c.onMessage('pong', resolve));
  c.send('ping', { calm: true });
  assert.deepEqual(await pong, { calm: true });
  await c.leave();
});

test('a client that stops reading is disconnected once its unsent data passes the cap (4408)', async () => {
  const d = await newDevice(s.url);
  const uid = decodeJwt(d.token).uid as string;
  // Matchmake over HTTP as the SDK does, then connect a raw socket we can stop reading from.
  const res = await fetch(`${s.url}/matchmake/create/session`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const seat = (await res.json()) as { sessionId: string; roomId: string; processId: string };
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/${seat.processId}/${seat.roomId}?sessionId=${seat.sessionId}`);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => {
      ws.send(Buffer.from([10])); // acknowledge JOIN_ROOM, as the SDK does
      resolve();
    });
    ws.once('error', reject);
  });
  await new Promise((r) => setTimeout(r, 200));
  // Stop reading: the kernel buffers fill, then the server's queue grows.
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const big = { blob: 'x'.repeat(64 * 1024) };
  let code: number | undefined;
  void closed.then((c) => (code = c));
  const deadline = Date.now() + 60_000;
  // Keep sending until the server gives up on the client (kernel buffers absorb the first megabytes).
  for (let i = 0; code === undefined && Date.now() < deadline; i++) {
    await s.runtime.nk.notificationSend(uid, `n${i}`, big, 1, null, false);
    if (i % 50 === 49) {
      (ws as unknown as { _socket: { resume(): void; pause(): void } })._socket.resume();
      await new Promise((r) => setTimeout(r, 1));
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      if (s.logs.some((l) => l.msg === 'disconnecting a client that does not read its messages')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  assert.equal(await closed, 4408);
  assert.ok(s.logs.some((l) => l.msg === 'disconnecting a client that does not read its messages'));
});
