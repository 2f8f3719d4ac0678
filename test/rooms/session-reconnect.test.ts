/**
 * Reconnection to the `session` room through the real Colyseus SDK against a real server: a
 * dropped client keeps its session, the refusal once the session is revoked, and shutdown closing
 * connected sessions.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { matchMaker } from '@colyseus/core';
import { CloseCode, Protocol, type Room } from '@colyseus/sdk';
import { eventually, sdk, serverSocketOf } from '../support/realtime.js';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';
import { assertRefused, claimsOf, joinSession, mailbox, ping, sessionRooms, within, type SessionView } from '../support/sessions.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

describe('reconnection', () => {
  test('a dropped client reconnects automatically within the window, keeping its session', async () => {
    const d = await newDevice(s.url);
    const { tid, uid } = claimsOf(d.token);
    const room = await joinSession(s.url, d.token);
    room.reconnection.minUptime = 0; // the SDK otherwise gives up on rooms joined < 5 s ago
    const box = mailbox(room);
    const sessionId = room.sessionId;
    const dropped = new Promise<number>((resolve) => room.onDrop((code) => resolve(code)));
    const reconnected = new Promise<void>((resolve) => room.onReconnect(() => resolve()));
    let leftWith: number | undefined;
    room.onLeave((code) => (leftWith = code));
    try {
      // Cut the TCP connection without a close frame, as a network failure would.
      serverSocketOf(room).terminate();
      assert.equal(await within(dropped, 'onDrop'), CloseCode.ABNORMAL_CLOSURE);
      await within(reconnected, 'onReconnect');
      assert.equal(leftWith, undefined);
      assert.equal(room.sessionId, sessionId);
      assert.equal(room.state.sessionId, tid);
      assert.equal(room.state.userId, uid);
      // The server kept the same room and seat: no second room, the same Colyseus session.
      const serverRoom = matchMaker.getLocalRoomById(`session_${tid}`);
      assert.deepEqual(
        Array.from(serverRoom?.clients ?? [], (c) => c.sessionId),
        [sessionId],
      );
      assert.equal((await sessionRooms(tid)).length, 1);
      // And the new socket carries messages.
      assert.deepEqual(await ping(room, box, { after: 'reconnect' }), { type: 'pong', body: { after: 'reconnect' } });
    } finally {
      await room.leave();
    }
  });

  test('client.reconnect(reconnectionToken) after the client closed its socket abnormally', async () => {
    const d = await newDevice(s.url);
    const { tid, uid } = claimsOf(d.token);
    const room = await joinSession(s.url, d.token);
    room.reconnection.enabled = false;
    const token = room.reconnectionToken;
    const sessionId = room.sessionId;
    assert.match(token, new RegExp(`^session_${tid}:`));
    const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
    // Close as the SDK does when the network goes offline: not a consented leave.
    room.connection.close(CloseCode.MAY_TRY_RECONNECT);
    assert.equal(await within(left, 'onLeave'), CloseCode.MAY_TRY_RECONNECT);
    // The server holds the seat for the reconnection window.
    await eventually(() => assert.equal(matchMaker.getLocalRoomById(`session_${tid}`)?.clients.length, 0));
    assert.equal((await sessionRooms(tid)).length, 1);

    const back = await within(sdk(s.url, d.token).reconnect<SessionView>(token), 'reconnect');
    try {
      assert.equal(back.roomId, `session_${tid}`);
      assert.equal(back.sessionId, sessionId);
      await eventually(() => assert.equal(back.state?.userId, uid));
      assert.equal(back.state.sessionId, tid);
      const box = mailbox(back);
      assert.deepEqual((await ping(back, box, { x: 1 })).body, { x: 1 });
      assert.equal((await sessionRooms(tid)).length, 1);
    } finally {
      await back.leave();
    }
  });

  test('a client cut off before it acknowledged its join gets no seat, and nothing crashes', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    // Swallow the client's JOIN_ROOM acknowledgement, as a connection lost right after the
    // server's JOIN_ROOM would: the server still counts the client as joining.
    const proto = globalThis.WebSocket.prototype;
    const send = proto.send;
    proto.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0]) {
      if (data instanceof Uint8Array && data.byteLength === 1 && data[0] === Protocol.JOIN_ROOM) return;
      return send.call(this, data);
    };
    let room: Room;
    try {
      room = await sdk(s.url, d.token).create('session');
    } finally {
      proto.send = send;
    }
    try {
      room.reconnection.enabled = false;
      const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
      const serverClient = matchMaker.getLocalRoomById(room.roomId)?.clients[0] as unknown as { _enqueuedMessages?: unknown[] };
      assert.ok(serverClient?._enqueuedMessages, 'the server should still be waiting for the acknowledgement');
      serverSocketOf(room).terminate();
      assert.equal(await within(left, 'onLeave'), CloseCode.ABNORMAL_CLOSURE);
      // Colyseus cannot hold a seat for a client that never finished joining: the room goes.
      await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
      await sleep(50);
      assert.deepEqual(rejections, []);
      // And the session can simply join again.
      const again = await joinSession(s.url, d.token);
      assert.equal(again.roomId, `session_${tid}`);
      await again.leave();
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  test('a session revoked while its client was away is kicked with 4401 on automatic reconnection', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(s.url, d.token);
    room.reconnection.minUptime = 0;
    const dropped = new Promise<number>((resolve) => room.onDrop((code) => resolve(code)));
    const left = new Promise<{ code: number; reason?: string }>((resolve) => room.onLeave((code, reason) => resolve({ code, reason })));
    let reconnected = false;
    room.onReconnect(() => (reconnected = true));

    // Revoke first (the socket is still up), then drop: the reconnection skips onAuth.
    const logout = await http(s.url, 'POST', '/v2/session/logout', { auth: d.bearer, body: { token: d.token } });
    assert.equal(logout.status, 200);
    serverSocketOf(room).terminate();
    assert.equal(await within(dropped, 'onDrop'), CloseCode.ABNORMAL_CLOSURE);
    const { code, reason } = await within(left, 'onLeave');
    assert.equal(code, 4401);
    assert.equal(reason, 'Auth token invalid');
    assert.equal(reconnected, false);
    // The seat is gone and so is the room.
    await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
    assert.ok(s.logs.some((l) => l.msg === 'reconnection refused: session no longer valid' && l.roomId === `session_${tid}`));
  });

  test('a session revoked while its client was away is refused on client.reconnect()', async () => {
    const d = await newDevice(s.url);
    const { tid } = claimsOf(d.token);
    const room = await joinSession(s.url, d.token);
    room.reconnection.enabled = false;
    const token = room.reconnectionToken;
    const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
    serverSocketOf(room).terminate();
    assert.equal(await within(left, 'onLeave'), CloseCode.ABNORMAL_CLOSURE);

    // Logged out while away (every session of the user: the empty body form).
    const logout = await http(s.url, 'POST', '/v2/session/logout', { auth: d.bearer, body: {} });
    assert.equal(logout.status, 200);
    await assert.rejects(within(sdk(s.url, d.token).reconnect(token), 'reconnect'), (err: any) => {
      assert.equal(err.code, 4401, `unexpected error ${err?.name} ${err?.code} ${err?.message}`);
      return true;
    });
    await eventually(async () => assert.equal((await sessionRooms(tid)).length, 0));
    // Nor can it start over with a fresh join.
    await assertRefused(s.url, d.token);
  });
});

describe('shutdown', () => {
  // Last in the file: it stops the server (the `after` hook's second stop is a no-op).
  test('stopping the server closes connected sessions with 4001 and leaves no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const room = await joinSession(s.url, (await newDevice(s.url)).token);
      const dropped = await joinSession(s.url, (await newDevice(s.url)).token);
      dropped.reconnection.enabled = false;
      // One client connected, one inside its reconnection window.
      const droppedLeft = new Promise<number>((resolve) => dropped.onLeave((code) => resolve(code)));
      serverSocketOf(dropped).terminate();
      await within(droppedLeft, 'onLeave of the dropped client');
      room.reconnection.enabled = false;
      const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
      await s.stop();
      assert.equal(await within(left, 'onLeave'), CloseCode.SERVER_SHUTDOWN);
      await sleep(50);
      assert.deepEqual(rejections, []);
      if (s.config.redisUrl) {
        // The registry is in Redis (the stopped server's driver is closed): no session listed.
        const redis = new Redis(s.config.redisUrl);
        try {
          assert.equal(await redis.scard('tavern:mm:name:session'), 0);
        } finally {
          redis.disconnect();
        }
      } else assert.equal((await matchMaker.query({ name: 'session' })).length, 0);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
